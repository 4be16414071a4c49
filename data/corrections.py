"""Reviewed corrections applied on read: the *effective* verdict and the *effective* brands.

Every read query (listings, trends, KPIs, alerts, exports) selects verdicts through
`effective_verdicts()` and post brands through EFFECTIVE_BRANDS, so a correction counts
everywhere at once and is undone by nothing but a newer correction. The model's verdict stays
beside it (model_* columns). Self-contained SQL snippets: no imports, so data/queries.py can
use them without a cycle.

Per post and field the newest feedback row wins (ids grow with time). A reviewed label or
sarcasm makes the verdict human: confidence 1, sarcasm_score 1 or 0.
"""

from __future__ import annotations

# The newest reviewed value of each field, per post. `false_alarm` rows (an alert dismissed)
# also say "not sarcastic", through their sarcasm column.
REVIEWS = """
    SELECT post_id,
           arg_max(label, id) FILTER (WHERE label IS NOT NULL) AS r_label,
           arg_max(sarcasm, id) FILTER (WHERE sarcasm IS NOT NULL) AS r_sarcasm,
           arg_max(emotion, id) FILTER (WHERE emotion IS NOT NULL) AS r_emotion,
           arg_max(brand, id) FILTER (WHERE brand IS NOT NULL) AS r_brand,
           arg_max(irrelevant, id) FILTER (WHERE irrelevant IS NOT NULL) AS r_irrelevant,
           arg_max(reviewer, id) AS reviewed_by, max(created_at) AS reviewed_at
      FROM feedback GROUP BY post_id
"""

# A sarcastic verdict reviewed as "not sarcastic" (and no label given) is read at face value:
# the polarity of its words.
_FACE_VALUE = """CASE WHEN TRY_CAST(m.evidence -> 'polarity' ->> 'text' AS DOUBLE) >= 0.2
                      THEN 'positive'
                      WHEN TRY_CAST(m.evidence -> 'polarity' ->> 'text' AS DOUBLE) <= -0.2
                      THEN 'negative' ELSE 'neutral' END"""


def effective_verdicts(latest: str) -> str:
    """`latest` (one model verdict per post) with the newest reviews applied. Columns: those
    of verdicts, plus reviewed, reviewed_by, reviewed_at, irrelevant, about_brand and the
    model's label, sentiment, sarcasm, sarcasm_score, emotion and confidence (model_*);
    human: a reviewer set the label or sarcasm."""
    return f"""
    SELECT e.* EXCLUDE (label, sentiment, sarcasm, sarcasm_score, emotion, confidence,
                        r_label, r_sarcasm, r_emotion, r_brand, r_irrelevant, e_label,
                        e_sarcasm),
           e.e_label AS label,
           CASE WHEN e.e_label = e.label THEN e.sentiment
                WHEN e.e_label = 'sarcastic' THEN 'negative' ELSE e.e_label END AS sentiment,
           e.e_sarcasm AS sarcasm,
           CASE WHEN e.human THEN CASE WHEN e.e_sarcasm THEN 1.0 ELSE 0.0 END
                ELSE e.sarcasm_score END AS sarcasm_score,
           coalesce(e.r_emotion, e.emotion) AS emotion,
           CASE WHEN e.human THEN 1.0 ELSE e.confidence END AS confidence,
           e.label AS model_label, e.sentiment AS model_sentiment, e.sarcasm AS model_sarcasm,
           e.sarcasm_score AS model_sarcasm_score, e.emotion AS model_emotion,
           e.confidence AS model_confidence
      FROM (
        SELECT m.*, r.r_label, r.r_sarcasm, r.r_emotion, r.r_brand, r.r_irrelevant,
               r.post_id IS NOT NULL AS reviewed, r.reviewed_by, r.reviewed_at,
               coalesce(r.r_irrelevant, false) AS irrelevant, r.r_brand AS about_brand,
               r.r_label IS NOT NULL OR r.r_sarcasm IS NOT NULL AS human,
               CASE WHEN r.r_label IS NOT NULL THEN r.r_label
                    WHEN r.r_sarcasm THEN 'sarcastic'
                    WHEN r.r_sarcasm = false AND m.label = 'sarcastic' THEN {_FACE_VALUE}
                    ELSE m.label END AS e_label,
               CASE WHEN r.r_sarcasm IS NOT NULL THEN r.r_sarcasm
                    WHEN r.r_label IS NOT NULL THEN r.r_label = 'sarcastic'
                    ELSE m.sarcasm END AS e_sarcasm
          FROM ({latest}) m LEFT JOIN ({REVIEWS}) r ON r.post_id = m.post_id
      ) e
    """


# post_brands less what reviewers took away: a post "not about our brand" counts for no brand,
# a post reviewed as about one brand (of the two it names) counts for that brand only.
EFFECTIVE_BRANDS = f"""
    SELECT pb.post_id, pb.brand FROM post_brands pb
      LEFT JOIN ({REVIEWS}) r ON r.post_id = pb.post_id
     WHERE NOT coalesce(r.r_irrelevant, false) AND (r.r_brand IS NULL OR r.r_brand = pb.brand)
"""


# The newest verdict of each post: history across analyzers is kept, the listing shows the
# latest, which save_verdicts marks as it writes (no ranking of all verdicts per call).
LATEST_MODEL_VERDICTS = "SELECT * FROM verdicts WHERE latest"
# ...with reviewers' corrections applied: what every view shows.
LATEST_VERDICTS = effective_verdicts(LATEST_MODEL_VERDICTS)
# A post's brands less what reviewers took away (r: its reviews, joined by REVIEWS_OF): "not
# about our brand" counts for no brand, "about Voltra" (of two named) for that one only.
BRANDS_OF = """CASE WHEN coalesce(r.r_irrelevant, false) THEN []::VARCHAR[]
                    WHEN r.r_brand IS NOT NULL THEN list_filter(p.brands, lambda x: x = r.r_brand)
                    ELSE p.brands END"""
REVIEWS_OF = f"LEFT JOIN ({REVIEWS}) r ON r.post_id = p.id"
# A post imported without a language has the one its analyzer detected (reads v).
LANG = "coalesce(p.lang, v.evidence ->> 'lang')"


# -- why a post is in the review queue (data/feedback.py lists it; data/trend_rows.py keeps
# each post's reason) ---------------------------------------------------------------------

FALSE_ALARM = "false_alarm"  # the field of a row that dismisses an alert (not sarcastic)
LOW_CONFIDENCE = 0.5  # below this the model's verdict goes to review

# Posts whose only feedback is a dismissed alert: their real reading is still to be given.
FALSE_ALARMS = f"""SELECT post_id FROM feedback GROUP BY post_id
                    HAVING bool_and(coalesce(field, '') = '{FALSE_ALARM}')"""

# Why a post is in the queue; NULL = it is not. Reads fa (FALSE_ALARMS), v (the effective
# verdict) and vd (verdict_disagreements of v's analyzer: whether a verdict's modalities
# disagree was found when it was written, store.DISAGREES).
QUEUE_REASON = f"""CASE
    WHEN fa.post_id IS NOT NULL THEN 'false alarm'
    WHEN v.reviewed THEN NULL
    WHEN vd.post_id IS NOT NULL THEN 'modalities disagree'
    WHEN v.model_confidence < {LOW_CONFIDENCE} THEN 'low confidence'
    END"""
