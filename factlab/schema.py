"""Names shared by every stage: canonical fields, row statuses, file formats.

The steward's output and the linked file use exactly these column names; later stages rely on
them, and pipelines outside factlab do too, so they only change with a new format version.
"""

from __future__ import annotations

from typing import Final

import polars as pl

#: Version of the pseudonymisation scheme (bytes hashed, key derivation, output encoding).
#: A change here changes every pseudonym: it must be a new version and a CHANGELOG entry.
SCHEME: Final = "factlab-hmac-sha256-v1"
#: The blind scheme: stage-1 pseudonyms from an RFC 9497 VOPRF (ristretto255-SHA512) evaluated
#: by key services, no steward holding a key (docs/scheme.md, docs/keyservice.md). Its pseudonyms
#: never equal the HMAC scheme's; link refuses to mix the two.
BLIND_SCHEME: Final = "factlab-voprf-ristretto255-v1"
#: Every scheme this factlab reads and writes.
SCHEMES: Final = (SCHEME, BLIND_SCHEME)

#: Column that holds the keyed pseudonym of the client's BSN (null when the BSN is not valid).
PSEUDONYM: Final = "pseudonym"
#: Every pseudonym is 32 lowercase hex characters (128 bits).
PSEUDONYM_PATTERN: Final = r"^[0-9a-f]{32}$"
#: Column that holds each row's BSN status.
STATUS: Final = "bsn_status"
#: Column that holds the provider code.
PROVIDER: Final = "provider"
#: A provider code: 1-64 letters, digits, ``_``, ``.`` or ``-``, starting with a letter or digit.
#: Match it with ``re.fullmatch``: ``$`` would let a trailing newline through.
PROVIDER_CODE_PATTERN: Final = r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}"

#: BSN status of every row. Only ``valid`` rows carry a pseudonym.
STATUSES: Final = ("valid", "missing", "sentinel", "bad_length", "non_digit", "checksum")
#: Polars dtype of the status column.
STATUS_DTYPE: Final = pl.Enum(list(STATUSES))
#: Statuses that mean the row had a value that is not a usable BSN.
INVALID_STATUSES: Final = ("bad_length", "non_digit", "checksum")

#: Polars dtype of the provider column and the text fields: Categorical with Polars' global
#: categories. Parquet stores such a column as a dictionary of its values and a small code per row,
#: so it is written, read and held in memory for a fraction of the cost of text per row; frames
#: read from different files can be concatenated. (A String column is accepted wherever factlab
#: reads one.)
TEXT_DTYPE: Final = pl.Categorical()

#: Optional canonical fields a provider file may carry, with their dtype in the output.
FIELD_DTYPES: Final[dict[str, pl.DataType]] = {
    "birth_year": pl.Int16(),
    "sex": TEXT_DTYPE,
    "municipality": TEXT_DTYPE,
    "domain": TEXT_DTYPE,
    "financing": TEXT_DTYPE,
    "care_form": TEXT_DTYPE,
    "product_category": TEXT_DTYPE,
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "cost": pl.Float64(),
}
#: The largest cost one row may hold, in euros; a larger one is taken for an error (10^9: far
#: above any episode of youth care, far below where the sum of a round's rows loses its cents).
#: The steward turns a larger, negative or non-finite cost into an empty one (a field issue), and
#: ``costs`` refuses a linked file that still holds one.
MAX_ROW_COST: Final = 1_000_000_000

#: Canonical input fields (``birth_date`` is read, then reduced to ``birth_year``; ``postcode``
#: is only read for the fallback pseudonym and never written).
INPUT_FIELDS: Final = ("bsn", "birth_date", *FIELD_DTYPES, "postcode")

#: Column that holds the keyed fallback pseudonym (birth date, sex, postcode), when asked for.
FALLBACK_PSEUDONYM: Final = "fallback_pseudonym"
#: Every column a steward's file may hold, and so every column of a linked file. Linking refuses
#: any other column: a raw BSN or a copy of a first-stage pseudonym would re-identify clients.
PSEUDONYMISED_COLUMNS: Final = (PSEUDONYM, FALLBACK_PSEUDONYM, STATUS, PROVIDER, *FIELD_DTYPES)
#: Fields the fallback pseudonym may be built from, and the default choice.
FALLBACK_CHOICES: Final = ("birth_date", "sex", "postcode", "birth_year", "municipality")
FALLBACK_DEFAULT: Final = ("birth_date", "sex", "postcode")

#: Values of the ``format`` field in a manifest.
FORMAT_PSEUDONYMISED: Final = "factlab-pseudonymised"
FORMAT_LINKED: Final = "factlab-linked"
#: Key under which the manifest is stored in the Parquet file's key-value metadata.
MANIFEST_KEY: Final = "factlab.manifest"
