"""The key service: one organisation's share of a blind round's OPRF key, served over HTTPS.

See docs/keyservice.md for the operator's and the steward's how-to and docs/threat-model.md for
who can compute what.
"""
