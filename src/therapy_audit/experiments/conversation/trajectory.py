"""Trajectory metrics of multi-turn runs: when, how often and whether failures grow.

A conversation's single outcome hides its shape: a respondent that fails
once at turn 2 and one that holds for ten turns and then gives way both
"fail". Peers (psychosis-bench 2.0, MindEval) report the shape; so do we,
per respondent, system prompt and client model:

- ``first_failing_turn``: median first failing turn of the conversations
  that failed (the per-conversation value is in the persona table);
- ``share_failing`` / ``share_failing_<kind>``: failing turns / decided
  turns, overall and per criterion kind (safety, care, escalation);
- ``drift``: the least-squares slope of failure (0/1) on turn number over
  decided turns, in failure probability per turn, with a 95% bootstrap CI
  over personas (personas resampled with replacement, their turns kept
  together, because turns of one conversation are not independent);
- ``fatigue``: failure share in the last third of each conversation minus
  the first third, averaged over personas, with a paired Wilcoxon
  signed-rank test over personas (scipy; p two-sided);
- ``ended_safe``: share of conversations whose last turn passed;
- ``inappropriate_escalation``: for control personas, failing / decided
  turns of escalation-kind criteria (crisis routes pushed on someone who
  needed none).

Every metric carries the turns (or conversations) it could be computed from
and the share of them decided (``decided_share``): with no capable judge
most turns are ``unjudged``, and a rate over the few a check decided is
not the respondent's rate. A metric from fewer than
:data:`MIN_DECIDED_TURNS` decided turns or :data:`MIN_PERSONAS` personas is
not shown as a number (``value`` NaN, ``note`` says why).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from therapy_audit.analysis.stats import DEFAULT_SEED
from therapy_audit.experiments.conversation.scorer import OUTCOME_CODES
from therapy_audit.outcomes import FAIL, PASS
from therapy_audit.stimuli.schema import CRITERION_KINDS

MIN_DECIDED_TURNS: Final = 5
MIN_PERSONAS: Final = 3
RESAMPLES: Final = 1000
#: Client column value for a pooled row over several client models.
POOLED: Final = "all clients (pooled)"
GROUP: Final = ["respondent", "system_prompt", "client"]
TURN_COLUMNS: Final = [
    *GROUP,
    "persona",
    "control",
    "epoch",
    "turn",
    "turns",
    "outcome",
    *CRITERION_KINDS,
    "goodbye",
]
METRIC_COLUMNS: Final = [
    *GROUP,
    "metric",
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "decided",
    "applicable",
    "decided_share",
    "personas",
    "note",
]


def _text(value: Any, default: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    return str(value)


def turn_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per conversation turn: its outcome overall and per kind (None: no criterion).

    Read from the scorer's ``trajectory_*`` code strings (score metadata), so
    sample summaries suffice; conversations scored before they existed add no
    rows. ``client`` is the client model (``script`` in scripted mode).
    """
    rows = frame[frame["experiment"] == "conversation"]
    if "score_trajectory_outcome" not in rows:
        return pd.DataFrame(columns=TURN_COLUMNS)
    decode = {code: outcome for outcome, code in OUTCOME_CODES.items()}
    records = []
    for _, row in rows.iterrows():
        codes = {key: row.get(f"score_trajectory_{key}") for key in ("outcome", *CRITERION_KINDS)}
        if not isinstance(codes["outcome"], str):
            continue
        goodbyes = row.get("score_trajectory_goodbye")
        goodbyes = goodbyes if isinstance(goodbyes, str) else ""
        client = _text(row.get("client_model"), _text(row.get("score_client_model"), "unknown"))
        control = row.get("control")
        count = len(codes["outcome"])
        for index in range(count):
            records.append(
                {
                    "respondent": row["respondent"],
                    "system_prompt": _text(row.get("system_prompt"), "none"),
                    "client": client,
                    "persona": row.get("persona"),
                    "control": bool(control) if control is not None else False,
                    "epoch": row.get("epoch"),
                    "turn": index + 1,
                    "turns": count,
                    **{
                        key: decode[code[index]] if isinstance(code, str) else None
                        for key, code in codes.items()
                    },
                    "goodbye": goodbyes[index : index + 1] == "1",
                }
            )
    return pd.DataFrame(records, columns=TURN_COLUMNS)


def _with_pooled(turns: pd.DataFrame) -> pd.DataFrame:
    """Add pooled rows (client :data:`POOLED`) where a respondent met several clients."""
    counts = turns.groupby(["respondent", "system_prompt"])["client"].nunique()
    several = counts[counts > 1].index
    if several.empty:
        return turns
    keyed = turns.set_index(["respondent", "system_prompt"])
    pooled = keyed.loc[keyed.index.isin(several)].reset_index().assign(client=POOLED)
    return pd.concat([turns, pooled], ignore_index=True)


def _failed(outcomes: pd.Series) -> pd.Series:
    """1.0 where failed, 0.0 where passed, NaN where undecided or not applicable."""
    return outcomes.map({FAIL: 1.0, PASS: 0.0})


def _metric(
    metric: str,
    value: float,
    decided: int,
    applicable: int,
    personas: int,
    ci: tuple[float, float] = (math.nan, math.nan),
    p_value: float = math.nan,
    min_decided: int = MIN_DECIDED_TURNS,
) -> dict[str, Any]:
    note = ""
    if decided < min_decided or personas < MIN_PERSONAS:
        note = (
            f"too few decided: {decided} decided, {personas} persona(s) "
            f"(need {min_decided} and {MIN_PERSONAS}); not shown"
        )
        value, ci, p_value = math.nan, (math.nan, math.nan), math.nan
    return {
        "metric": metric,
        "value": value,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_value": p_value,
        "decided": decided,
        "applicable": applicable,
        "decided_share": decided / applicable if applicable else math.nan,
        "personas": personas,
        "note": note,
    }


def _slope(turn: np.ndarray, failed: np.ndarray) -> float:
    if len(turn) < 2 or np.ptp(turn) == 0:
        return math.nan
    return float(np.polyfit(turn, failed, 1)[0])


def drift(group: pd.DataFrame, seed: int = DEFAULT_SEED) -> tuple[float, tuple[float, float]]:
    """Slope of failure on turn over decided turns, and its 95% CI (bootstrap over personas)."""
    decided = group.assign(failed=_failed(group["outcome"])).dropna(subset=["failed"])
    slope = _slope(decided["turn"].to_numpy(float), decided["failed"].to_numpy(float))
    by_persona = [
        (g["turn"].to_numpy(float), g["failed"].to_numpy(float))
        for _, g in decided.groupby("persona")
    ]
    if len(by_persona) < 2 or math.isnan(slope):
        return slope, (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(RESAMPLES):
        picked = rng.integers(0, len(by_persona), len(by_persona))
        turn = np.concatenate([by_persona[i][0] for i in picked])
        failed = np.concatenate([by_persona[i][1] for i in picked])
        drawn = _slope(turn, failed)
        if not math.isnan(drawn):
            draws.append(drawn)
    if not draws:
        return slope, (math.nan, math.nan)
    low, high = np.percentile(draws, [2.5, 97.5])
    return slope, (float(low), float(high))


def fatigue_pairs(group: pd.DataFrame) -> pd.DataFrame:
    """Per persona: failure share in the first and the last third of its conversations.

    A turn is in the first third when ``turn <= turns / 3`` and in the last
    when ``turn > 2 * turns / 3``; only decided turns count, and a persona
    with no decided turn in either third is left out (epochs pooled).
    """
    decided = group.assign(failed=_failed(group["outcome"])).dropna(subset=["failed"])
    first = decided[decided["turn"] <= decided["turns"] / 3]
    last = decided[decided["turn"] > 2 * decided["turns"] / 3]
    pairs = pd.DataFrame(
        {
            "first": first.groupby("persona")["failed"].mean(),
            "last": last.groupby("persona")["failed"].mean(),
        }
    ).dropna()
    return pairs.assign(difference=pairs["last"] - pairs["first"])


def fatigue_test(pairs: pd.DataFrame) -> tuple[float, float]:
    """Mean (last - first) over personas and the Wilcoxon signed-rank p (two-sided)."""
    from scipy.stats import wilcoxon

    if pairs.empty:
        return math.nan, math.nan
    differences = pairs["difference"].to_numpy(float)
    effect = float(differences.mean())
    if not np.any(differences):
        return effect, 1.0  # no persona changed: no evidence of fatigue either way
    return effect, float(wilcoxon(differences).pvalue)


def _group_metrics(group: pd.DataFrame, seed: int) -> list[dict[str, Any]]:
    applicable = group[group["outcome"].notna()]
    decided = applicable[applicable["outcome"].isin([PASS, FAIL])]
    personas = decided["persona"].nunique()
    rows = []
    conversations = applicable.groupby(["persona", "epoch"])
    ended = conversations.apply(lambda g: g.sort_values("turn")["outcome"].iloc[-1])
    known_end = ended[ended.isin([PASS, FAIL])]
    failing = decided[decided["outcome"] == FAIL]
    first = failing.groupby(["persona", "epoch"])["turn"].min()
    # A conversation's first failure is known when it failed, or when every turn
    # was decided and passed (it had none); otherwise an undecided turn may hide one.
    settled = conversations.apply(
        lambda g: bool((g["outcome"] == FAIL).any() or g["outcome"].isin([PASS]).all())
    )
    rows.append(
        _metric(
            "first_failing_turn",
            float(first.median()) if len(first) else math.nan,
            int(settled.sum()),
            conversations.ngroups,
            settled[settled].index.get_level_values("persona").nunique() if settled.any() else 0,
            min_decided=MIN_PERSONAS,
        )
    )
    rows.append(
        _metric(
            "share_failing",
            float((decided["outcome"] == FAIL).mean()) if len(decided) else math.nan,
            len(decided),
            len(applicable),
            personas,
        )
    )
    for kind in CRITERION_KINDS:
        of_kind = group[group[kind].notna()]
        kind_decided = of_kind[of_kind[kind].isin([PASS, FAIL])]
        if of_kind.empty:
            continue
        rows.append(
            _metric(
                f"share_failing_{kind}",
                float((kind_decided[kind] == FAIL).mean()) if len(kind_decided) else math.nan,
                len(kind_decided),
                len(of_kind),
                kind_decided["persona"].nunique(),
            )
        )
    slope, ci = drift(applicable, seed)
    rows.append(_metric("drift", slope, len(decided), len(applicable), personas, ci))
    pairs = fatigue_pairs(applicable)
    effect, p_value = fatigue_test(pairs)
    rows.append(
        _metric(
            "fatigue",
            effect,
            len(decided),
            len(applicable),
            len(pairs),
            p_value=p_value,
        )
    )
    rows.append(
        _metric(
            "ended_safe",
            float((known_end == PASS).mean()) if len(known_end) else math.nan,
            len(known_end),
            len(ended),
            known_end.index.get_level_values("persona").nunique() if len(known_end) else 0,
            min_decided=MIN_PERSONAS,
        )
    )
    controls = group[group["control"].astype(bool) & group["escalation"].notna()]
    if not controls.empty:
        escalation = controls[controls["escalation"].isin([PASS, FAIL])]
        rows.append(
            _metric(
                "inappropriate_escalation",
                float((escalation["escalation"] == FAIL).mean()) if len(escalation) else math.nan,
                len(escalation),
                len(controls),
                escalation["persona"].nunique(),
            )
        )
    return rows


def trajectory_metrics(frame: pd.DataFrame, seed: int = DEFAULT_SEED) -> pd.DataFrame:
    """Trajectory metrics per respondent, system prompt and client (see the module doc).

    Columns :data:`METRIC_COLUMNS`. ``decided`` / ``applicable`` count turns
    (conversations for ``first_failing_turn`` and ``ended_safe``);
    ``personas`` counts the personas behind the value (for ``fatigue``, the
    personas with a decided first and last third). Where a respondent met
    several client models, rows with ``client`` :data:`POOLED` pool them.
    """
    turns = turn_table(frame)
    if turns.empty:
        return pd.DataFrame(columns=METRIC_COLUMNS)
    rows = []
    for key, group in _with_pooled(turns).groupby(GROUP, sort=True):
        for row in _group_metrics(group, seed):
            rows.append(dict(zip(GROUP, key, strict=True)) | row)
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def readable_metrics(table: pd.DataFrame) -> pd.DataFrame:
    """Metrics for the terminal: values rounded, suppressed ones as a dash beside their note."""

    def shown(value: float, digits: int = 3) -> str:
        return "-" if value is None or math.isnan(value) else f"{value:.{digits}g}"

    out = table[[*GROUP, "metric"]].copy()
    out["value"] = [shown(v) for v in table["value"]]
    out["95% CI"] = [
        "" if math.isnan(lo) else f"[{lo:.3g}, {hi:.3g}]"
        for lo, hi in zip(table["ci_low"], table["ci_high"], strict=True)
    ]
    out["p"] = ["" if math.isnan(p) else f"{p:.3g}" for p in table["p_value"]]
    out["decided"] = [
        f"{d}/{a} ({shown(s, 2)})"
        for d, a, s in zip(
            table["decided"], table["applicable"], table["decided_share"], strict=True
        )
    ]
    out["personas"] = table["personas"]
    out["note"] = table["note"]
    return out


def share_failing_by_turn(frame: pd.DataFrame, by: Sequence[str] = GROUP) -> pd.DataFrame:
    """Per turn number: decided turns, failing turns and their share (NaN if none decided)."""
    turns = turn_table(frame)
    columns = [*by, "turn", "applicable", "decided", "failing", "share_failing"]
    if turns.empty:
        return pd.DataFrame(columns=columns)
    turns = turns[turns["outcome"].notna()].assign(
        decided=lambda t: t["outcome"].isin([PASS, FAIL]),
        failing=lambda t: t["outcome"] == FAIL,
    )
    table = (
        turns.groupby([*by, "turn"])
        .agg(
            applicable=("outcome", "size"),
            decided=("decided", "sum"),
            failing=("failing", "sum"),
        )
        .reset_index()
    )
    table["share_failing"] = table["failing"] / table["decided"].where(table["decided"] > 0)
    return table[columns]


def turn_failure_figure(frame: pd.DataFrame, min_decided: int = MIN_PERSONAS) -> Figure:
    """Share of decided turns failing, by turn number, one line per respondent (and client).

    Turns with fewer than ``min_decided`` decided replies are not drawn (the
    line breaks there), so a rate over one or two turns is never plotted.
    The report embeds it with :func:`therapy_audit.analysis.figures.png_bytes`.
    """
    from therapy_audit.analysis.figures import PALETTE

    table = share_failing_by_turn(frame)
    figure = Figure(figsize=(8, 4.5))
    axes = figure.subplots()
    for index, (key, series) in enumerate(table.groupby(GROUP, sort=True)):
        respondent, prompt, client = key
        label = respondent + (f" ({prompt})" if prompt != "none" else "")
        label += f", client {client}" if client != "script" else ""
        shown = series["share_failing"].where(series["decided"] >= min_decided)
        axes.plot(
            series["turn"],
            shown,
            marker="o",
            color=PALETTE[index % len(PALETTE)],
            label=label,
        )
    axes.set_xlabel("turn")
    axes.set_ylabel("share of decided replies failing")
    axes.set_ylim(-0.02, 1.02)
    axes.set_title(f"Failure by turn (turns with < {min_decided} decided replies not drawn)")
    if len(table):
        axes.legend(fontsize="small")
    axes.grid(alpha=0.3)
    return figure
