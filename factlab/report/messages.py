"""Every fixed word of a report, per language (looked up through :func:`factlab.report.i18n.text`).

One table per language with the same keys (a test checks that they match). Fields in braces are
filled by the caller; numbers arrive already formatted in the reader's form. The module is longer
than most because it is data, two tables side by side; splitting it would split the one home of
a report's words.
"""

from __future__ import annotations

from typing import Final

__all__ = ["MESSAGES"]

_NL: Final = {
    # page and sheets
    "default_title": "Jeugdhulp: rapport van de ronde",
    "contents": "Inhoud",
    "corrections": "Correcties",
    "chart_desc": "De cijfers staan in tabel {n}.",
    "table_n": "Tabel {n}",
    "page": "Pagina",
    "of": "van",
    "key_figures": "Kerncijfers",
    "how_to_read": "Leeswijzer",
    "provenance": "Herkomst",
    "warning": "Waarschuwing",
    "assumptions": "Aannames",
    "legend_title": "Verklaring van tekens",
    "corrections_title": "Correcties: {title}",
    "unseen_title": "Vangst-hervangst: jeugdigen die geen aanbieder zag",
    "chart_caption_periods": "{title}, per periode",
    "chart_caption_heatmap": (
        "{title}: hoe donkerder, hoe meer gedeelde jeugdigen; de diagonaal (eigen jeugdigen) "
        "is niet gekleurd, alleen het getal telt; grijze cellen zijn geheim"
    ),
    "chart_caption_bars": "{title}",
    "chart_caption_waterfall": "Van het getelde totaal via elke correctie naar de raming",
    "suppressed_sr": "geheim",
    "structural_sr": "kan niet voorkomen",
    "nil_sr": "nihil",
    "internal_mark": "intern — niet voor publicatie",
    "region": "Regio: {region}",
    "counted": "Geteld: {what}",
    "generated": "Gemaakt: {when}",
    "published_on": "Publicatiedatum: {date}",
    "contact": "Contact: {contact}",
    "source_line": "Bron: {source}",
    "source_default": "factlab, gekoppelde leveringen van {providers} jeugdhulpaanbieders",
    "source_default_region": (
        "factlab, gekoppelde leveringen van {providers} jeugdhulpaanbieders in {region}"
    ),
    "chart_unique_clients": "unieke jeugdigen",
    "chart_clients": "jeugdigen",
    "chart_registrations": "registraties",
    "chart_counted": "geteld",
    "chart_estimate": "raming",
    "chart_providers": "aantal aanbieders",
    "sheet_about": "over dit rapport",
    "sheet_key_figures": "kerncijfers",
    "sheet_cross": "kruistabel",
    "sheet_by": "naar {dimension}",
    "sheet_providers_per_client": "aantal aanbieders",
    "sheet_overlap": "gedeeld",
    "sheet_data_quality": "datakwaliteit",
    "sheet_corrections": "correcties",
    "sheet_capture_recapture": "vangst-hervangst",
    "sheet_provenance": "herkomst",
    # legend of symbols
    "legend_suppressed": ". geheim",
    "legend_nil": "– nihil",
    "legend_structural": "x kan niet voorkomen",
    "legend_rounded": (
        "Aantallen zijn afgerond op veelvouden van {base}; een totaal is apart afgerond en hoeft "
        "niet gelijk te zijn aan de som van de afgeronde cellen."
    ),
    "legend_quality_rounded": (
        "Geleverde registraties (datakwaliteit) zijn afgerond op veelvouden van {base}; 1 tot "
        "en met {secret_max} registraties zijn geheim (.), want ze begrenzen het aantal jeugdigen "
        "van een aanbieder."
    ),
    "legend_exact": "Exacte aantallen, niet afgerond en niet beschermd.",
    # status
    "status_provisional": "Voorlopige cijfers",
    "status_final": "Definitieve cijfers",
    "status_protected": "{status}, beschermd volgens de regels {rules}",
    # time
    "time_period": "periode {period}",
    "time_reference": "peildatum {date}",
    "time_all": "alle rijen (geen periode of peildatum)",
    "phrase_period": "in zorg in {period}",
    "phrase_reference": "in zorg op {date}",
    "phrase_all": "in het gekoppelde bestand",
    "all_rows": "alle rijen",
    "half_year": "{year} {nth} halfjaar",
    "quarter": "{year} {nth} kwartaal",
    "date_range": "{start} t/m {end}",
    # tables
    "total": "totaal",
    "sum_of_cells": "som van de cellen",
    "title_cross": "Unieke jeugdigen naar {a} en {b}",
    "title_by": "Unieke jeugdigen naar {dimension}",
    "title_distribution": "Jeugdigen naar aantal aanbieders",
    "title_overlap": "Jeugdigen gedeeld door aanbieders",
    "title_quality": "Datakwaliteit: geleverde registraties per aanbieder naar BSN-status",
    "value_title_unique": "unieke jeugdigen {period}",
    "row_title_providers": "aantal aanbieders",
    "value_title_clients": "jeugdigen",
    "row_title_provider": "aanbieder",
    "providers_or_more": "{number} of meer",
    "percent_valid": "geldig (%)",
    "note_cross": (
        "Jeugdigen {phrase}. De totaalrij en -kolom tellen personen; de som van de cellen telt "
        "een jeugdige één keer in elke cel waarin hij of zij voorkomt."
    ),
    "note_dimension": "Jeugdigen {phrase}.",
    "note_dimension_parts": "Jeugdigen {phrase}, en in elk deel van de periode.",
    "note_municipality": (
        "Naar woongemeente; een jeugdige die verhuisde, telt in de laatste woongemeente."
    ),
    "note_several": "Een jeugdige met zorg in meer dan één {dimension} telt in elk daarvan.",
    "note_level": (
        "Elke {dimension} telt een jeugdige één keer, ook als die in meer dan één {children} "
        "ervan voorkomt (indeling volgens het referentiebestand, {year})."
    ),
    "note_municipality_reference": (
        "Gemeenten volgens de indeling van 1 januari {year}; oude namen en codes zijn omgezet "
        "naar de gemeente waarin ze opgingen."
    ),
    "note_distribution": (
        "Jeugdigen {phrase} naar het aantal aanbieders dat voor hen een registratie leverde."
    ),
    "note_overlap": (
        "Jeugdigen {phrase} die twee aanbieders delen; de diagonaal bevat de eigen jeugdigen "
        "van elke aanbieder."
    ),
    "note_overlap_anonymised": (
        "Aanbieders heten A, B, ... naar het aantal geleverde registraties, de grootste eerst."
    ),
    "note_quality": (
        "Alle registraties van het gekoppelde bestand, niet alleen die in de getelde periode. "
        "Dit zijn registraties (rijen), geen personen: ze worden gepubliceerd en niet geheim "
        "gehouden; nul is '–'. geldig: een bruikbaar BSN; ontbreekt: geen BSN; code: een code "
        "voor 'onbekend' of 'ongeboren'; verkeerde lengte, geen cijfers, elfproef: een waarde "
        "die geen BSN is."
    ),
    "status_valid": "geldig",
    "status_missing": "ontbreekt",
    "status_sentinel": "code",
    "status_bad_length": "verkeerde lengte",
    "status_non_digit": "geen cijfers",
    "status_checksum": "elfproef",
    "dim_municipality": "gemeente",
    "dim_care_form": "zorgvorm",
    "dim_financing": "financiering",
    "dim_domain": "domein",
    "dim_product_category": "productcategorie",
    "dim_sex": "geslacht",
    "dim_birth_year": "geboortejaar",
    "dim_age_group": "leeftijdsgroep",
    "dim_provider": "aanbieder",
    "dim_purchasing_region": "inkoopregio",
    "dim_youth_care_region": "jeugdzorgregio",
    "dim_province": "provincie",
    "dim_region": "regio",
    "dim_care_group": "zorggroep",
    "dim_provider_group": "aanbiedersgroep",
    # key figures
    "fig_figure": "kerncijfer",
    "fig_count": "aantal",
    "fig_percent": "%",
    "fig_unique": "Unieke jeugdigen",
    "fig_sum_of_cells": "Som van de cellen ({names})",
    "fig_rows": "Geleverde registraties",
    "fig_multi": "Jeugdigen bij twee of meer aanbieders",
    "fig_single": "bij één aanbieder",
    "fig_valid": "Registraties met een geldig BSN",
    # corrections
    "est_step": "stap",
    "est_applies": "geldt voor",
    "est_formula": "formule",
    "est_parameter": "parameter",
    "est_range": "bandbreedte",
    "est_counted": "geteld",
    "est_estimate": "raming",
    "est_sum": "geteld + correcties",
    "est_base": "{measure} van {rows} × {columns}",
    "est_source": "Bron",
    "est_all_cells": "alle cellen",
    "est_total": "totaal",
    "est_fixed": "vast aantal",
    "formula_factor": "waargenomen × factor",
    "formula_coverage": "waargenomen × (1 − dekking) / dekking",
    "formula_absolute": "vaste waarde",
    "param_factor": "factor",
    "param_coverage": "dekking",
    "param_absolute": "waarde",
    "unit_registrations": "registraties",
    "unit_persons": "jeugdigen",
    "unit_registrations_long": (
        "registraties in cellen (een jeugdige in twee cellen telt twee keer)"
    ),
    "unit_persons_long": "personen (unieke jeugdigen)",
    "measure_sum_of_cells": "som van de cellen",
    "measure_unique_clients": "unieke jeugdigen",
    # capture-recapture
    "unseen_seen": "gezien door ten minste één aanbieder",
    "unseen_estimated": "geschat, inclusief wie geen aanbieder zag",
    "unseen_youths": "jeugdigen",
    "unseen_interval": "95%-interval",
    "unseen_sentence": (
        "De raming telt {meaning}. Ze staat naast een gecorrigeerd totaal en wordt er niet bij "
        "opgeteld. Model: een Poisson log-lineair model van de overlap tussen de {lists} lijsten "
        "({model}); het interval is een 95%-profiel-likelihoodinterval."
    ),
    "unseen_rounded": " Gepubliceerd als veelvouden van {rounding}.",
    "unseen_meaning": (
        "unieke jeugdigen in zorg, inclusief wie geen aanbieder zag, geschat uit de overlap van "
        "de cliëntlijsten van de aanbieders; ze rust op de gegevens en de genoemde aannames, "
        "niet op opgegeven percentages, en telt personen, geen registraties in cellen"
    ),
    "unseen_independence": "onafhankelijkheid",
    "unseen_assumption_closed": (
        "gesloten populatie: niemand komt binnen de periode in de populatie of verlaat haar"
    ),
    "unseen_assumption_lists": (
        "de lijsten zijn de bronnen die de gebruiker opgaf; een jeugdige staat op een lijst als "
        "de bron hem of haar in de periode hielp"
    ),
    "unseen_assumption_dependence": (
        "afhankelijkheid tussen bronnen alleen zoals gemodelleerd: de tweewegsinteracties van "
        "het gekozen model"
    ),
    "unseen_assumption_heterogeneity": (
        "binnen een stratum heeft elke jeugdige dezelfde kans om door een bron gezien te worden; "
        "ongelijke kansen (heterogeniteit) maken de raming meestal te laag"
    ),
    "no_unseen": "Geen vangst-hervangstraming: {reason}",
    "no_unseen_few": (
        "Geen vangst-hervangstraming: er zijn te weinig jeugdigen gezien om haar te publiceren."
    ),
    "no_unseen_model": (
        "Geen vangst-hervangstraming: met deze lijsten is geen model te schatten (te weinig "
        "overlap, of een model dat niet convergeert); factlab unseen geeft de reden."
    ),
    # reading notes
    "reading_guide": (
        "Drie getallen, drie vragen: unieke jeugdigen tellen elke jeugdige één keer, de som van "
        "de cellen telt een jeugdige in elke cel (zorgvorm × financiering) waarin hij of zij "
        "voorkomt, en de raming voegt daar jeugdigen aan toe die de telling mist."
    ),
    "note_disclosure": (
        "Geheimhouding (regels {rules}): aantallen van {zero}1 tot en met {secret_max} staan als "
        "'.'; verdere aantallen zijn geheim gehouden zodat geen geheim aantal terug te rekenen "
        "is; elk gepubliceerd aantal is afgerond op een veelvoud van {base}. Totalen zijn apart "
        "afgerond en hoeven niet gelijk te zijn aan de som van hun afgeronde cellen."
    ),
    "zero_and": "0 en ",
    "note_exact": "Exacte aantallen zonder geheimhouding: {mark}.",
    "note_cells": (
        "Een jeugdige telt één keer in elke cel en één keer in elk totaal, zodat de cellen van "
        "een tabel samen meer zijn dan het totaal; de som van de cellen telt registraties in "
        "cellen, het totaal personen."
    ),
    "note_valid": (
        "Alleen registraties met een geldig BSN zijn te koppelen en tellen als jeugdige; de "
        "tabel datakwaliteit toont de registraties zonder geldig BSN."
    ),
    "note_coverage": (
        "Koppeling: aandeel registraties met een geldig BSN per aanbieder: {shares}. "
        "Registraties zonder geldig BSN tellen niet mee als unieke jeugdige; waar dat aandeel "
        "laag is, zijn de unieke aantallen te laag, en een jeugdige die ook elders in zorg is, "
        "valt daar niet als gedeeld op."
    ),
    "note_percentages": (
        "Percentages en verschillen zijn berekend uit de gepubliceerde (afgeronde) waarden; "
        "een verschil in het geheime bereik staat ook als '.'."
    ),
    "note_estimate": "Gecorrigeerde totalen zijn modelramingen, geen tellingen.",
    "note_estimate_rounded": (
        "Gecorrigeerde totalen zijn modelramingen, geen tellingen, afgerond op veelvouden van "
        "{step}."
    ),
    "note_estimate_protected": (
        "Getallen in de toelichting bij de correcties zijn de gepubliceerde (afgeronde) "
        "waarden; de berekening klopt daardoor bij benadering."
    ),
    # warnings
    "warn_no_manifest": (
        "De rijen zijn zonder manifest in het geheugen aangereikt: hun herkomst is onbekend."
    ),
    "warn_single_stage": (
        "Pseudonimisering in één fase: deze ronde is gekoppeld zonder de tweede fase van de "
        "vertrouwde partij. Wie de aanbiederssleutel heeft, kan deze pseudoniemen uit BSN's "
        "opnieuw berekenen (zie docs/threat-model.md)."
    ),
    "warn_single_service": (
        "Eén sleuteldienst: de pseudoniemen van {count} van de {total} invoerbestanden zijn "
        "gemaakt via één sleuteldienst in plaats van twee. Die dienst kon alle pseudoniemen van "
        "deze ronde zelf berekenen; bij gedeelde bewaring over twee sleuteldiensten kan geen "
        "enkele organisatie dat alleen (zie docs/threat-model.md)."
    ),
    "warn_after_delivery": (
        "De getelde tijd ({what}) ligt na de laatste levering ({delivered}): de gegevens zeggen "
        "niets over die tijd, alleen open trajecten tot de leverdatum tellen mee."
    ),
    "warn_partly_after_delivery": (
        "De getelde tijd ({what}) loopt door na de laatste levering ({delivered}): de gegevens "
        "dekken {share} van die tijd. Over de rest zeggen ze niets; open trajecten tellen mee "
        "tot de leverdatum."
    ),
    "warn_after_data": (
        "De getelde tijd ({what}) begint na de laatste datum in de gegevens ({last}): geen "
        "traject begint of eindigt erin, alleen open trajecten tellen mee, doorgetrokken tot "
        "de leverdatum. Klopt de periode wel bij deze gegevens?"
    ),
    "warn_before_start": (
        "De getelde tijd ({what}) begint vóór het eerste begin van een traject in de gegevens "
        "({first}): over het deel daarvoor zeggen de gegevens niets."
    ),
    "warn_open_capped": "Open trajecten zijn afgekapt op de leverdatum {delivered}.",
    # provenance
    "prov_linked_file": "Gekoppeld bestand",
    "prov_file": "bestand",
    "prov_sha256": "sha256",
    "prov_format": "formaat",
    "prov_scheme": "pseudonimiseringsschema",
    "prov_custody": "sleutelbewaring",
    "custody_split": "gedeeld over twee sleuteldiensten ({services})",
    "custody_single": "één sleuteldienst bij {count} van de {total} invoerbestanden ({services})",
    "prov_stage": "fase",
    "stage_two": "2 (twee fasen)",
    "stage_one": "{stage} (één fase)",
    "prov_round": "ronde",
    "prov_key_id": "sleutel-id",
    "prov_key_fingerprint": "vingerafdruk van de sleutel",
    "prov_written_by": "geschreven door factlab",
    "prov_created": "gemaakt",
    "prov_digest_internal": "alleen in het interne rapport (één fase: pseudoniemen van fase 1)",
    "prov_inputs": "Invoer",
    "prov_input_public": "aanbiedersbestand; de SHA-256 alleen in het interne rapport",
    "prov_input_internal": "sha256 {sha256}; code {code}; rijen {rows}; gemaakt {created}",
    "prov_linked_rows": "Gekoppelde rijen",
    "prov_source": "bron",
    "prov_in_memory": "rijen in het geheugen, zonder manifest",
    "prov_this_report": "Dit rapport",
    "prov_version": "factlab-versie",
    "prov_generated": "gemaakt op",
    "prov_configuration": "configuratie",
    "prov_counted": "geteld",
    "prov_dimensions": "dimensies",
    "prov_none": "geen",
    "prov_labels": "aanbiederslabels",
    "labels_anonymised": "geanonimiseerd (A, B, ...)",
    "labels_codes": "codes",
    "prov_disclosure": "geheimhouding",
    "disclosure_none": "geen: {mark}",
    "disclosure_rules": (
        "regels {rules}: {zero}1–{secret_max} geheim, afronding op veelvouden van {base}, "
        "beschermingsbreedte minstens {width} en {percent} %"
    ),
    "prov_label_map": "label van elke aanbieder",
    "prov_corrections": "correcties",
    "prov_delivery": "leverdatum",
    "prov_language": "taal",
    "file_round_config": "rondeconfiguratie",
    "file_disclosure_rules": "geheimhoudingsregels",
    "file_corrections": "correcties",
    "file_reference": "referentiegegevens",
    "file_reference_year": "peiljaar referentiegegevens",
    "file_municipality_table": "gemeentetabel",
    "file_municipality_changes": "gemeentelijke herindelingen",
    "file_municipality_aliases": "andere gemeentenamen",
    "file_provider_registry": "aanbiedersregister",
    "file_population": "bevolkingscijfers",
    # monitor report (factlab/report/monitor.py)
    "mon_title": "Jeugdhulpmonitor",
    "mon_title_region": "Jeugdhulpmonitor {region}",
    "mon_counted": "{first} tot en met {last}",
    "mon_period": "periode",
    "mon_series_title": "Jeugdigen in zorg per periode",
    "mon_fig_unique": "unieke jeugdigen",
    "mon_fig_registrations": "registraties",
    "mon_fig_several": "bij meer dan één aanbieder",
    "mon_by_title": "Unieke jeugdigen naar {dimension}, per periode",
    "mon_transitions_title": "Overgangen naar {dimension}: {first} naar {second}",
    "mon_transitions_rows": "{dimension} in {period}",
    "mon_new": "(nieuw)",
    "mon_ended": "(beëindigd)",
    "mon_ended_18": "(18 geworden)",
    "mon_in_care": "in zorg in {period}",
    "mon_durations_title": "Duur van trajecten naar {dimension}, gestart {first} tot en met {last}",
    "mon_fig_trajectories": "trajecten",
    "mon_fig_still_open": "nog lopend",
    "mon_fig_share_open": "nog lopend (%)",
    "mon_fig_q1": "1e kwartiel (dagen)",
    "mon_fig_median": "mediaan (dagen)",
    "mon_fig_q3": "3e kwartiel (dagen)",
    "mon_costs_title": "Kosten per unieke jeugdige",
    "mon_fig_cost": "totale kosten (× 1.000 euro)",
    "mon_fig_cost_per_client": "kosten per jeugdige (euro)",
    "mon_fig_change": "verandering totale kosten (euro)",
    "mon_fig_volume": "waarvan volume-effect (euro)",
    "mon_fig_intensity": "waarvan intensiteitseffect (euro)",
    "mon_chart_clients": "jeugdigen",
    "mon_chart_euro": "euro",
    "mon_key_unique": "Unieke jeugdigen in {period}",
    "mon_key_several": "Bij meer dan één aanbieder in {period}",
    "mon_key_new": "Nieuw in zorg in {period}",
    "mon_sheet_series": "reeks",
    "mon_sheet_transitions": "overgangen",
    "mon_sheet_durations": "duur",
    "mon_sheet_costs": "kosten",
    "mon_note_series": (
        "Een jeugdige telt in een periode als die er op enig moment in zorg was; een jaar is "
        "de vereniging van zijn halfjaren, niet hun som. Elke periode is apart beschermd, met "
        "dezelfde regels als een rapport van die periode alleen."
    ),
    "mon_note_several": "Een jeugdige met zorg in meer dan één {dimension} telt in elk daarvan.",
    "mon_note_transitions": (
        "Elke jeugdige die in {first} of {second} in zorg was, staat in één cel. Rij (nieuw): "
        "niet in zorg in {first}; kolom (beëindigd): niet meer in zorg in {second}; kolom "
        "(18 geworden): niet meer in zorg en tussen beide perioden 18 geworden (leeftijd aan "
        "het eind van de periode, uit het geboortejaar). De tabel is met haar randtotalen "
        "beschermd."
    ),
    "mon_note_combined": (
        "Een jeugdige met meer waarden in een periode heeft ze samen (bijvoorbeeld PGB + ZIN)."
    ),
    "mon_note_latest": (
        "Een jeugdige met meer waarden in een periode heeft die van de laatste registratie."
    ),
    "mon_note_durations": (
        "Een traject is één zorgvorm bij één aanbieder. Trajecten die op {until} nog liepen, "
        "tellen als nog lopend (gecensureerd, niet als beëindigd); de kwartielen komen uit de "
        "Kaplan-Meier-schatting. Kwartielen en het aandeel nog lopend staan er alleen bij "
        "minstens {threshold} trajecten en een gepubliceerd aantal. Een kwartiel dat de "
        "schatting niet bereikt (te veel trajecten lopen nog) staat ook als '.'."
    ),
    "mon_note_costs": (
        "Kosten alleen waar het aantal jeugdigen gepubliceerd is. De totale kosten zijn "
        "afgerond op 1.000 euro; de kosten per jeugdige zijn die afgeronde totale kosten "
        "gedeeld door het gepubliceerde (afgeronde) aantal jeugdigen, in hele euro's. De "
        "verandering van de totale kosten is gesplitst in volume (meer of minder jeugdigen) en "
        "intensiteit (meer of minder kosten per jeugdige), berekend uit dezelfde gepubliceerde "
        "getallen; samen zijn ze de verandering."
    ),
    "mon_costs_by_title": "Kosten per unieke jeugdige naar {dimension}, per periode",
    "mon_note_costs_by": (
        "Kosten per jeugdige: de kosten van de jeugdigen van één {dimension}, afgerond op "
        "1.000 euro, gedeeld door hun gepubliceerde (afgeronde) aantal, in hele euro's. Alleen "
        "waar dat aantal gepubliceerd is. Verbergt een periode het aantal van een {dimension}, "
        "dan ook de kosten van die met het kleinste gepubliceerde aantal: zo zijn de verborgen "
        "kosten samen nooit alleen die van kleine groepen."
    ),
    "mon_change_by_title": (
        "Verandering van de totale kosten naar {dimension}: {first} naar {second}"
    ),
    "mon_fig_cost_before": "totale kosten {first} (× 1.000 euro)",
    "mon_fig_cost_after": "totale kosten {second} (× 1.000 euro)",
    "mon_note_change_by": (
        "Uit de afgeronde kosten en de gepubliceerde aantallen jeugdigen van {first} en "
        "{second}: de verandering gesplitst in volume (meer of minder jeugdigen) en intensiteit "
        "(meer of minder kosten per jeugdige); alleen waar beide perioden de kosten tonen."
    ),
    "mon_reentry_title": "Terugkeer in zorg binnen {months} maanden na het einde van de zorg",
    "mon_fig_spells_ended": "beëindigde zorgperiodes",
    "mon_fig_reentered": "teruggekeerd binnen {months} maanden",
    "mon_fig_window_open": "nog niet te zeggen",
    "mon_fig_share_reentered": "teruggekeerd (%)",
    "mon_chart_spells": "zorgperiodes",
    "mon_note_reentry": (
        "Een zorgperiode is de tijd dat een jeugdige onafgebroken in zorg is, bij welke "
        "aanbieder ook. Per periode waarin zorgperiodes eindigden: hoeveel binnen {months} "
        "maanden gevolgd werden door nieuwe zorg. Nog niet te zeggen: de {months} maanden "
        "reiken voorbij {until}, de laatste dag waarover de gegevens gaan, en er was nog geen "
        "terugkeer. Het aandeel is dat van de zorgperiodes waarvan de afloop bekend is, "
        "berekend uit de gepubliceerde getallen. Elke periode is apart beschermd."
    ),
    "mon_sheet_reentry": "terugkeer",
    "mon_cohort_title": "Mediaan van de duur van trajecten naar {dimension}, per startperiode",
    "mon_period_started": "gestart in",
    "mon_chart_days": "dagen",
    "mon_note_cohort": (
        "Per periode de trajecten die erin startten, in dagen. Trajecten die op {until} nog "
        "liepen, tellen als nog lopend (gecensureerd); de mediaan komt uit de "
        "Kaplan-Meier-schatting en staat er alleen bij minstens {threshold} trajecten en een "
        "gepubliceerd aantal. Recente perioden hebben vaak nog geen mediaan: te veel trajecten "
        "lopen nog."
    ),
    "mon_sheet_cohorts": "duur per start",
    "mon_prov_store": "Monitorbestand",
    "mon_prov_part": "deel {n}",
    "mon_prov_periods": "perioden",
    "file_monitor_config": "monitorconfiguratie",
}

_EN: Final = {
    "default_title": "Youth care round report",
    "contents": "Contents",
    "corrections": "Corrections",
    "chart_desc": "The numbers are in table {n}.",
    "table_n": "Table {n}",
    "page": "Page",
    "of": "of",
    "key_figures": "Key figures",
    "how_to_read": "How to read these numbers",
    "provenance": "Provenance",
    "warning": "Warning",
    "assumptions": "Assumptions",
    "legend_title": "Explanation of symbols",
    "corrections_title": "Corrections: {title}",
    "unseen_title": "Capture–recapture: youths no provider saw",
    "chart_caption_periods": "{title}, per period",
    "chart_caption_heatmap": (
        "{title}: darker is more shared clients; the diagonal (own clients) is not coloured, "
        "only its number counts; grey cells are suppressed"
    ),
    "chart_caption_bars": "{title}",
    "chart_caption_waterfall": "From the counted total through each correction to the estimate",
    "suppressed_sr": "secret",
    "structural_sr": "cannot occur",
    "nil_sr": "nil",
    "internal_mark": "internal — not for publication",
    "region": "Region: {region}",
    "counted": "Counted: {what}",
    "generated": "Generated: {when}",
    "published_on": "Published: {date}",
    "contact": "Contact: {contact}",
    "source_line": "Source: {source}",
    "source_default": "factlab, linked deliveries of {providers} youth-care providers",
    "source_default_region": (
        "factlab, linked deliveries of {providers} youth-care providers in {region}"
    ),
    "chart_unique_clients": "unique clients",
    "chart_clients": "clients",
    "chart_registrations": "cell registrations",
    "chart_counted": "counted",
    "chart_estimate": "estimate",
    "chart_providers": "providers",
    "sheet_about": "about",
    "sheet_key_figures": "key figures",
    "sheet_cross": "cross table",
    "sheet_by": "by {dimension}",
    "sheet_providers_per_client": "providers per client",
    "sheet_overlap": "shared clients",
    "sheet_data_quality": "data quality",
    "sheet_corrections": "corrections",
    "sheet_capture_recapture": "capture-recapture",
    "sheet_provenance": "provenance",
    "legend_suppressed": ". secret",
    "legend_nil": "– nil",
    "legend_structural": "x cannot occur",
    "legend_rounded": (
        "Counts are rounded to multiples of {base}; a total is rounded on its own and need not "
        "equal the sum of its rounded cells."
    ),
    "legend_quality_rounded": (
        "Rows delivered (data quality) are rounded to multiples of {base}; 1 to {secret_max} rows "
        "are secret (.), as they bound a provider's number of youths."
    ),
    "legend_exact": "Exact counts, neither rounded nor protected.",
    "status_provisional": "Provisional figures",
    "status_final": "Final figures",
    "status_protected": "{status}, protected under the rules {rules}",
    "time_period": "period {period}",
    "time_reference": "reference date {date}",
    "time_all": "all rows (no period or reference date)",
    "phrase_period": "in care in {period}",
    "phrase_reference": "in care on {date}",
    "phrase_all": "in the linked file",
    "all_rows": "all rows",
    "half_year": "{year} {nth} half",
    "quarter": "{year} {nth} quarter",
    "date_range": "{start} to {end}",
    "total": "total",
    "sum_of_cells": "sum of cells",
    "title_cross": "Unique clients by {a} and {b}",
    "title_by": "Unique clients by {dimension}",
    "title_distribution": "Clients by number of providers",
    "title_overlap": "Clients shared by providers",
    "title_quality": "Data quality: rows delivered per provider by BSN status",
    "value_title_unique": "unique clients {period}",
    "row_title_providers": "providers",
    "value_title_clients": "clients",
    "row_title_provider": "provider",
    "providers_or_more": "{number} or more",
    "percent_valid": "valid (%)",
    "note_cross": (
        "Clients {phrase}. The total row and column count persons; the sum of cells counts a "
        "client once in every cell they are in."
    ),
    "note_dimension": "Clients {phrase}.",
    "note_dimension_parts": "Clients {phrase}, and in each part.",
    "note_municipality": (
        "By municipality of residence; a client who moved counts where they lived last."
    ),
    "note_several": "A client with care in several {dimension} values counts in each of them.",
    "note_level": (
        "Each {dimension} counts a client once, even one found in more than one {children} "
        "within it (grouping as in the reference file, {year})."
    ),
    "note_municipality_reference": (
        "Municipalities as on 1 January {year}; former names and codes are mapped to the "
        "municipality they went into."
    ),
    "note_distribution": (
        "Clients {phrase} by the number of providers that delivered a row for them."
    ),
    "note_overlap": (
        "Clients {phrase} that two providers share; the diagonal holds each provider's own clients."
    ),
    "note_overlap_anonymised": (
        "Providers are labelled A, B, ... by the number of rows they delivered."
    ),
    "note_quality": (
        "All rows of the linked file, not only those in the counted period. These are rows, not "
        "persons: they are published, not suppressed; zero is '–'. valid: a usable BSN; "
        "missing: none given; sentinel: a code for 'unknown' or 'unborn'; bad length, non "
        "digit, checksum: a value that is not a BSN (wrong length, not digits, failed "
        "elfproef)."
    ),
    "status_valid": "valid",
    "status_missing": "missing",
    "status_sentinel": "sentinel",
    "status_bad_length": "bad length",
    "status_non_digit": "non digit",
    "status_checksum": "checksum",
    "dim_municipality": "municipality",
    "dim_care_form": "care form",
    "dim_financing": "financing",
    "dim_domain": "domain",
    "dim_product_category": "product category",
    "dim_sex": "sex",
    "dim_birth_year": "birth year",
    "dim_age_group": "age group",
    "dim_provider": "provider",
    "dim_purchasing_region": "purchasing region",
    "dim_youth_care_region": "youth-care region",
    "dim_province": "province",
    "dim_region": "region",
    "dim_care_group": "care group",
    "dim_provider_group": "provider group",
    "fig_figure": "figure",
    "fig_count": "count",
    "fig_percent": "%",
    "fig_unique": "Unique clients",
    "fig_sum_of_cells": "Sum of cells ({names})",
    "fig_rows": "Rows delivered",
    "fig_multi": "Clients at two or more providers",
    "fig_single": "at one provider",
    "fig_valid": "Rows with a valid BSN",
    "est_step": "step",
    "est_applies": "applies to",
    "est_formula": "formula",
    "est_parameter": "parameter",
    "est_range": "range",
    "est_counted": "counted",
    "est_estimate": "estimate",
    "est_sum": "counted + adjustments",
    "est_base": "{measure} of {rows} × {columns}",
    "est_source": "Source",
    "est_all_cells": "all cells",
    "est_total": "total",
    "est_fixed": "fixed number",
    "formula_factor": "observed × factor",
    "formula_coverage": "observed × (1 − coverage) / coverage",
    "formula_absolute": "value",
    "param_factor": "factor",
    "param_coverage": "coverage",
    "param_absolute": "value",
    "unit_registrations": "registrations",
    "unit_persons": "clients",
    "unit_registrations_long": "cell registrations (a youth in two cells counts twice)",
    "unit_persons_long": "persons (unique clients)",
    "measure_sum_of_cells": "sum of cells",
    "measure_unique_clients": "unique clients",
    "unseen_seen": "seen by at least one provider",
    "unseen_estimated": "estimated, those no provider saw included",
    "unseen_youths": "youths",
    "unseen_interval": "95 % interval",
    "unseen_sentence": (
        "The estimate counts {meaning}. It is shown beside any corrected total, not added to "
        "it. Model: a Poisson log-linear model of how the {lists} lists overlap ({model}); the "
        "interval is a 95 % profile-likelihood interval."
    ),
    "unseen_rounded": " Published as multiples of {rounding}.",
    "unseen_meaning": (
        "unique youths in care, those no provider saw included, estimated from how the "
        "providers' client lists overlap; it rests on the data and the assumptions listed, not "
        "on declared percentages, and it counts persons, not cell registrations"
    ),
    "unseen_independence": "independence",
    "unseen_assumption_closed": (
        "closed population: nobody enters or leaves the population within the period"
    ),
    "unseen_assumption_lists": (
        "the sources are the lists the user defined; a client is on a list when the source "
        "served them in the period"
    ),
    "unseen_assumption_dependence": (
        "dependence between sources only as modelled: two-way interactions of the chosen model"
    ),
    "unseen_assumption_heterogeneity": (
        "within a stratum every client has the same chance to be seen by a source; unequal "
        "chances (heterogeneity) usually make the estimate too low"
    ),
    "no_unseen": "No capture-recapture estimate: {reason}",
    "no_unseen_few": "No capture-recapture estimate: too few youths were seen to publish it.",
    "no_unseen_model": (
        "No capture-recapture estimate: no model can be estimated from these lists (too little "
        "overlap, or a model that does not converge); factlab unseen tells why."
    ),
    "reading_guide": (
        "Three numbers, three questions: unique clients count each youth once, the sum of cells "
        "counts a youth in every cell (care form × financing) they are in, and the estimate "
        "adds the youths the count misses."
    ),
    "note_disclosure": (
        "Disclosure control (rules {rules}): counts of {zero}1–{secret_max} are shown as '.'; "
        "further counts are suppressed so that no hidden count can be worked out; every "
        "published count is rounded to a multiple of {base}. Totals are rounded on their own "
        "and need not equal the sum of their rounded cells."
    ),
    "zero_and": "0 and ",
    "note_exact": "Exact counts without disclosure control: {mark}.",
    "note_cells": (
        "A client counts once in each cell and once in each total, so the cells of a table add "
        "up to more than its total; the sum of cells counts cell memberships, the total persons."
    ),
    "note_valid": (
        "Only rows with a valid BSN can be linked and counted as clients; the data-quality "
        "table shows the rows without one."
    ),
    "note_coverage": (
        "Linkage: share of rows with a valid BSN per provider: {shares}. Rows without a valid "
        "BSN do not count as unique clients; where that share is low, the unique counts are too "
        "low, and a client also in care elsewhere does not show as shared there."
    ),
    "note_percentages": (
        "Percentages and differences are computed from the published (rounded) values; a "
        "difference that falls in the secret range is shown as '.' too."
    ),
    "note_estimate": "Corrected totals are model estimates, not counts.",
    "note_estimate_rounded": (
        "Corrected totals are model estimates, not counts, rounded to multiples of {step}."
    ),
    "note_estimate_protected": (
        "Numbers in the notes on the corrections are the published (rounded) values, so their "
        "arithmetic holds approximately."
    ),
    "warn_no_manifest": (
        "The rows were given in memory without a manifest: their provenance is unknown."
    ),
    "warn_single_stage": (
        "Single-stage pseudonymisation: this round was linked without the trusted party's "
        "second stage. Whoever holds the provider key can recompute these pseudonyms from BSNs "
        "(see docs/threat-model.md)."
    ),
    "warn_single_service": (
        "Single-service mode: the pseudonyms of {count} of the {total} input files were made "
        "through one key service instead of two. That service could compute every pseudonym of "
        "this round on its own; in split custody over two key services no single organisation "
        "can (see docs/threat-model.md)."
    ),
    "warn_after_delivery": (
        "The counted time ({what}) lies after the last delivery ({delivered}): the data say "
        "nothing about it; only open episodes up to the delivery date count."
    ),
    "warn_partly_after_delivery": (
        "The counted time ({what}) runs on after the last delivery ({delivered}): the data "
        "cover {share} of it. They say nothing about the rest; open episodes count up to the "
        "delivery date."
    ),
    "warn_after_data": (
        "The counted time ({what}) begins after the last date in the data ({last}): no episode "
        "starts or ends in it, only open episodes count, carried on to the delivery date. Does "
        "the period fit these data?"
    ),
    "warn_before_start": (
        "The counted time ({what}) begins before the first start of an episode in the data "
        "({first}): the data say nothing about the part before it."
    ),
    "warn_open_capped": "Open episodes are capped at the delivery date {delivered}.",
    "prov_linked_file": "Linked file",
    "prov_file": "file",
    "prov_sha256": "sha256",
    "prov_format": "format",
    "prov_scheme": "pseudonymisation scheme",
    "prov_custody": "key custody",
    "custody_split": "split over two key services ({services})",
    "custody_single": "one key service for {count} of the {total} input files ({services})",
    "prov_stage": "stage",
    "stage_two": "2 (two-stage)",
    "stage_one": "{stage} (single-stage)",
    "prov_round": "round",
    "prov_key_id": "key id",
    "prov_key_fingerprint": "key fingerprint",
    "prov_written_by": "written by factlab",
    "prov_created": "created",
    "prov_digest_internal": "in the internal report only (single-stage: stage-1 pseudonyms)",
    "prov_inputs": "Inputs",
    "prov_input_public": "provider file; its SHA-256 in the internal report only",
    "prov_input_internal": "sha256 {sha256}; code {code}; rows {rows}; created {created}",
    "prov_linked_rows": "Linked rows",
    "prov_source": "source",
    "prov_in_memory": "rows given in memory, no manifest",
    "prov_this_report": "This report",
    "prov_version": "factlab version",
    "prov_generated": "generated",
    "prov_configuration": "configuration",
    "prov_counted": "counted",
    "prov_dimensions": "dimensions",
    "prov_none": "none",
    "prov_labels": "provider labels",
    "labels_anonymised": "anonymised (A, B, ...)",
    "labels_codes": "codes",
    "prov_disclosure": "disclosure control",
    "disclosure_none": "none: {mark}",
    "disclosure_rules": (
        "rules {rules}: {zero}1–{secret_max} secret, rounding to multiples of {base}, "
        "protection width at least {width} and {percent} %"
    ),
    "prov_label_map": "label of each provider",
    "prov_corrections": "corrections",
    "prov_delivery": "delivery date",
    "prov_language": "language",
    "file_round_config": "round config",
    "file_disclosure_rules": "disclosure rules",
    "file_corrections": "corrections",
    "file_reference": "reference data",
    "file_reference_year": "reference year",
    "file_municipality_table": "municipality table",
    "file_municipality_changes": "municipal mergers",
    "file_municipality_aliases": "other municipality names",
    "file_provider_registry": "provider registry",
    "file_population": "population figures",
    # monitor report (factlab/report/monitor.py)
    "mon_title": "Youth care monitor",
    "mon_title_region": "Youth care monitor {region}",
    "mon_counted": "{first} to {last}",
    "mon_period": "period",
    "mon_series_title": "Clients in care per period",
    "mon_fig_unique": "unique clients",
    "mon_fig_registrations": "registrations",
    "mon_fig_several": "at more than one provider",
    "mon_by_title": "Unique clients by {dimension}, per period",
    "mon_transitions_title": "Transitions by {dimension}: {first} to {second}",
    "mon_transitions_rows": "{dimension} in {period}",
    "mon_new": "(new)",
    "mon_ended": "(ended)",
    "mon_ended_18": "(turned 18)",
    "mon_in_care": "in care in {period}",
    "mon_durations_title": "Duration of trajectories by {dimension}, started {first} to {last}",
    "mon_fig_trajectories": "trajectories",
    "mon_fig_still_open": "still open",
    "mon_fig_share_open": "still open (%)",
    "mon_fig_q1": "first quartile (days)",
    "mon_fig_median": "median (days)",
    "mon_fig_q3": "third quartile (days)",
    "mon_costs_title": "Cost per unique client",
    "mon_fig_cost": "total cost (× 1,000 euro)",
    "mon_fig_cost_per_client": "cost per client (euro)",
    "mon_fig_change": "change in total cost (euro)",
    "mon_fig_volume": "of which volume (euro)",
    "mon_fig_intensity": "of which intensity (euro)",
    "mon_chart_clients": "clients",
    "mon_chart_euro": "euro",
    "mon_key_unique": "Unique clients in {period}",
    "mon_key_several": "At more than one provider in {period}",
    "mon_key_new": "New in care in {period}",
    "mon_sheet_series": "series",
    "mon_sheet_transitions": "transitions",
    "mon_sheet_durations": "durations",
    "mon_sheet_costs": "costs",
    "mon_note_series": (
        "A client counts in a period when in care at any moment in it; a year is the union of "
        "its halves, not their sum. Each period is protected on its own, under the same rules "
        "as a report of that period alone."
    ),
    "mon_note_several": "A client in care in more than one {dimension} counts in each.",
    "mon_note_transitions": (
        "Every client in care in {first} or {second} is in one cell. Row (new): not in care in "
        "{first}; column (ended): no longer in care in {second}; column (turned 18): no longer "
        "in care and turned 18 between the periods (age at the end of the period, from the "
        "birth year). The table is protected with its margins."
    ),
    "mon_note_combined": (
        "A client with several values in a period has them together (for example PGB + ZIN)."
    ),
    "mon_note_latest": "A client with several values in a period has that of the latest row.",
    "mon_note_durations": (
        "A trajectory is one care form at one provider. Trajectories still open on {until} "
        "count as still open (censored, not as ended); the quartiles come from the "
        "Kaplan-Meier estimate. Quartiles and the share still open are shown only for at least "
        "{threshold} trajectories and a published count. A quartile the estimate does not "
        "reach (too many trajectories still open) is shown as '.' too."
    ),
    "mon_note_costs": (
        "Costs only where the number of clients is published. The total cost is rounded to "
        "1,000 euros; the cost per client is that rounded total divided by the published "
        "(rounded) number of clients, in whole euros. The change in total cost is split into "
        "volume (more or fewer clients) and intensity (more or less cost per client), computed "
        "from the same published figures; together they are the change."
    ),
    "mon_costs_by_title": "Cost per unique client by {dimension}, per period",
    "mon_note_costs_by": (
        "Cost per client: the cost of the clients of one {dimension}, rounded to 1,000 euros, "
        "divided by their published (rounded) number, in whole euros. Only where that number "
        "is published. Where a period hides the number of a {dimension}, the cost of the one "
        "with the fewest published clients is hidden too, so that the hidden costs together "
        "are never those of small groups alone."
    ),
    "mon_change_by_title": "Change in total cost by {dimension}: {first} to {second}",
    "mon_fig_cost_before": "total cost {first} (× 1,000 euro)",
    "mon_fig_cost_after": "total cost {second} (× 1,000 euro)",
    "mon_note_change_by": (
        "From the rounded costs and the published numbers of clients of {first} and {second}: "
        "the change split into volume (more or fewer clients) and intensity (more or less "
        "cost per client); only where both periods show the cost."
    ),
    "mon_reentry_title": "Re-entry into care within {months} months after care ended",
    "mon_fig_spells_ended": "spells of care ended",
    "mon_fig_reentered": "re-entered within {months} months",
    "mon_fig_window_open": "not known yet",
    "mon_fig_share_reentered": "re-entered (%)",
    "mon_chart_spells": "spells of care",
    "mon_note_reentry": (
        "A spell of care is the time a client is in care without a break, at any provider. "
        "Per period in which spells ended: how many were followed by new care within {months} "
        "months. Not known yet: the {months} months reach beyond {until}, the last day the data "
        "tell about, and there was no re-entry yet. The share is of the spells whose outcome "
        "is known, computed from the published figures. Each period is protected on its own."
    ),
    "mon_sheet_reentry": "re-entry",
    "mon_cohort_title": "Median duration of trajectories by {dimension}, per period started",
    "mon_period_started": "started in",
    "mon_chart_days": "days",
    "mon_note_cohort": (
        "Per period the trajectories that started in it, in days. Trajectories still open on "
        "{until} count as still open (censored); the median comes from the Kaplan-Meier "
        "estimate and is shown only for at least {threshold} trajectories and a published "
        "count. Recent periods often have no median yet: too many trajectories are still open."
    ),
    "mon_sheet_cohorts": "durations by start",
    "mon_prov_store": "Monitor store",
    "mon_prov_part": "part {n}",
    "mon_prov_periods": "periods",
    "file_monitor_config": "monitor config",
}

#: The messages by language.
MESSAGES: Final[dict[str, dict[str, str]]] = {"nl": _NL, "en": _EN}
