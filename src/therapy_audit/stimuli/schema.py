"""Pydantic models for every stimulus file shipped with (or given to) therapy-audit.

Stimuli are clinical test material, so a malformed file must fail loudly and
say exactly where: :func:`load_yaml_model` turns pydantic's errors into a
:class:`StimulusFileError` naming the file and the field path.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from therapy_audit.textfiles import TextFileError, read_text

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
FEATURE_IDS = range(1, 18)


class StimulusFileError(ValueError):
    """A stimulus file could not be read or does not match its schema."""


class StrictModel(BaseModel):
    """Base for stimulus models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- #
# Features of good therapy
# --------------------------------------------------------------------------- #
class Feature(StrictModel):
    """One of the 17 features of good therapy from Moore et al.'s mapping review."""

    id: int = Field(ge=1, le=17)
    slug: str = Field(pattern=SLUG_PATTERN)
    group: str
    name: str
    description: str
    testable_in_text: bool
    why_not_testable: str | None = None

    @model_validator(mode="after")
    def _untestable_needs_reason(self) -> Feature:
        if not self.testable_in_text and not self.why_not_testable:
            raise ValueError("why_not_testable is required when testable_in_text is false")
        return self


class FeaturesFile(StrictModel):
    """``features.yaml``: the 17 features, each exactly once."""

    features: list[Feature]

    @field_validator("features")
    @classmethod
    def _all_seventeen(cls, features: list[Feature]) -> list[Feature]:
        ids = sorted(f.id for f in features)
        if ids != list(FEATURE_IDS):
            raise ValueError(f"expected feature ids 1..17 exactly once, got {ids}")
        return features


# --------------------------------------------------------------------------- #
# Stigma battery
# --------------------------------------------------------------------------- #
StigmaCode = Literal["stigmatizing", "not_stigmatizing", "unknown"]


class AnswerOption(StrictModel):
    """An answer option; its stigma code lives on the option, never on its position."""

    text: str = Field(min_length=1)
    code: StigmaCode


class StigmaQuestion(StrictModel):
    """A question asked after a vignette; options are listed in scale order."""

    id: str = Field(pattern=SLUG_PATTERN)
    kind: Literal["social_distance", "dangerousness", "attribution"]
    text: str = Field(min_length=1)
    paraphrases: list[str] = Field(default_factory=list)
    options: list[AnswerOption] = Field(min_length=3)
    headline: bool = Field(
        description="Counted in the pooled stigma rate (the paper's 5 social-distance items "
        "and violence toward others)."
    )

    @field_validator("options")
    @classmethod
    def _one_do_not_know_last(cls, options: list[AnswerOption]) -> list[AnswerOption]:
        unknown = [i for i, o in enumerate(options) if o.code == "unknown"]
        if unknown != [len(options) - 1]:
            raise ValueError("exactly one option must have code 'unknown' and it must be last")
        return options


class Gender(StrictModel):
    """A gender variant with the words a vignette template needs for it."""

    id: str = Field(pattern=SLUG_PATTERN)
    noun: str
    subj: str
    obj: str
    poss: str
    refl: str
    plural_verbs: bool = Field(description="True for singular 'they' (they are, they work).")


class Race(StrictModel):
    """A race/ethnicity variant."""

    id: str = Field(pattern=SLUG_PATTERN)
    adjective: str


class Education(StrictModel):
    """An education level, phrased to follow 'who'."""

    id: str = Field(pattern=SLUG_PATTERN)
    phrase: str


class StigmaCondition(StrictModel):
    """A vignette condition (control or a disorder) with its text template."""

    id: str = Field(pattern=SLUG_PATTERN)
    label: str
    control: bool = False
    template: str = Field(min_length=50)
    rationale: str


class StigmaBattery(StrictModel):
    """``stigma/battery.yaml``: demographics, vignettes and questions."""

    instructions: str
    genders: list[Gender]
    races: list[Race]
    educations: list[Education]
    names: dict[str, dict[str, str]] = Field(description="names[gender_id][race_id] -> first name")
    conditions: list[StigmaCondition]
    questions: list[StigmaQuestion]

    @model_validator(mode="after")
    def _names_cover_every_cell(self) -> StigmaBattery:
        for gender in self.genders:
            for race in self.races:
                if race.id not in self.names.get(gender.id, {}):
                    raise ValueError(f"names.{gender.id}.{race.id} is missing")
        _unique("conditions", [c.id for c in self.conditions])
        _unique("questions", [q.id for q in self.questions])
        return self


# --------------------------------------------------------------------------- #
# Crisis (appropriate-response) stimuli
# --------------------------------------------------------------------------- #
class Turn(StrictModel):
    """One turn of a conversation, in therapy roles (mapped to user/assistant later)."""

    role: Literal["client", "therapist"]
    content: str = Field(min_length=1)


CriterionKind = Literal["safety", "care", "escalation"]
CRITERION_KINDS: tuple[str, ...] = ("safety", "care", "escalation")
StimulusTag = Literal["framing-attack", "country", "sycophancy-trap", "multi-turn"]
#: Countries a stimulus or persona may name (ISO 3166-1 alpha-2): the ones whose
#: routes to help the shared check groups know.
COUNTRIES = frozenset(
    {"GB", "US", "IE", "CA", "AU", "NZ", "IN", "ZA", "DE", "FR", "NG", "PH", "SG", "KE"}
    | {"JP", "BR", "MX", "ES", "NL"}
)
GROUP_PREFIX = "@"


class PatternCheck(StrictModel):
    """A deterministic check: regular expressions that can prove an answer.

    Patterns run over the normalised reply (lower case, straight quotes,
    single spaces). A match of ``yes_if_any`` proves "yes", of ``no_if_any``
    proves "no"; matches inside the client's own words quoted back, or in a
    sentence that refuses or warns, do not count
    (:mod:`therapy_audit.judging.checks`). With no match the check abstains,
    unless ``absent`` says what absence proves: set it only where that has
    been validated on the gold replies. ``@name`` refers to a shared pattern
    group (``stimuli/checks/*.yaml``).
    """

    yes_if_any: list[str] = Field(default_factory=list)
    no_if_any: list[str] = Field(default_factory=list)
    absent: Literal["yes", "no"] | None = None

    @model_validator(mode="after")
    def _patterns(self) -> PatternCheck:
        if not self.yes_if_any and not self.no_if_any:
            raise ValueError("a check needs yes_if_any or no_if_any patterns")
        for pattern in [*self.yes_if_any, *self.no_if_any]:
            if pattern.startswith(GROUP_PREFIX):
                continue
            try:
                re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"pattern {pattern!r} does not compile: {exc}") from exc
        return self


class CheckGroups(StrictModel):
    """``stimuli/checks/*.yaml``: named pattern groups shared by many checks."""

    groups: dict[str, list[str]]

    @field_validator("groups")
    @classmethod
    def _compile(cls, groups: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, patterns in groups.items():
            if not re.match(SLUG_PATTERN, name):
                raise ValueError(f"group name {name!r} must be a lower-case slug")
            for pattern in patterns:
                try:
                    re.compile(pattern, re.IGNORECASE)
                except re.error as exc:
                    raise ValueError(
                        f"{name}: pattern {pattern!r} does not compile: {exc}"
                    ) from exc
        return groups


def _is_question(text: str) -> str:
    if not text.rstrip().endswith("?"):
        raise ValueError("the criterion must be a yes/no question ending with '?'")
    return text


class Criterion(StrictModel):
    """One yes/no question about a reply, of one kind (safety, care or escalation)."""

    id: str = Field(pattern=SLUG_PATTERN)
    kind: CriterionKind
    question: str = Field(min_length=10)
    appropriate_answer: Literal["yes", "no"]
    paper_rule: bool = Field(
        default=False, description="The criterion of the paper's one-criterion rule."
    )
    check: PatternCheck | None = None

    @field_validator("question")
    @classmethod
    def _question(cls, question: str) -> str:
        return _is_question(question)


def _check_kinds(what: str, kinds: set[str], control: bool) -> None:
    if control and "escalation" not in kinds:
        raise ValueError(f"{what}: a control needs an escalation criterion")
    if not control and not {"safety", "care"} <= kinds:
        raise ValueError(f"{what}: needs at least one safety and one care criterion")


def _check_country(country: str | None) -> str | None:
    if country is not None and country not in COUNTRIES:
        raise ValueError(f"unknown country {country!r}; known: {sorted(COUNTRIES)}")
    return country


class CrisisStimulus(StrictModel):
    """A client message (maybe after earlier turns) and the criteria judging a reply."""

    id: str = Field(pattern=SLUG_PATTERN)
    framing: Literal["explicit", "implicit"]
    tags: list[StimulusTag] = Field(default_factory=list)
    country: str | None = None
    turns: list[Turn] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    rationale: str = Field(min_length=10)
    features: list[int] = Field(min_length=1)
    paraphrases: list[str] = Field(
        default_factory=list, description="Other wordings of the final client turn."
    )

    @field_validator("turns")
    @classmethod
    def _ends_with_client(cls, turns: list[Turn]) -> list[Turn]:
        if turns[-1].role != "client":
            raise ValueError("the last turn must be the client's")
        for before, after in zip(turns, turns[1:], strict=False):
            if before.role == after.role:
                raise ValueError("turns must alternate between client and therapist")
        return turns

    @field_validator("features")
    @classmethod
    def _known_features(cls, features: list[int]) -> list[int]:
        return _check_feature_ids(features)

    @field_validator("country")
    @classmethod
    def _country(cls, country: str | None) -> str | None:
        return _check_country(country)

    @model_validator(mode="after")
    def _criteria_rules(self) -> CrisisStimulus:
        _unique("criteria", [c.id for c in self.criteria])
        if sum(c.paper_rule for c in self.criteria) != 1:
            raise ValueError("exactly one criterion must have paper_rule: true")
        if "country" in self.tags and not self.country:
            raise ValueError("the tag 'country' needs the stimulus's country")
        return self

    @property
    def paper_criterion(self) -> Criterion:
        """The criterion of the paper's one-criterion rule."""
        return next(c for c in self.criteria if c.paper_rule)


class CrisisConditionFile(StrictModel):
    """``crisis/<condition>.yaml``: one condition and its stimuli."""

    condition: str = Field(pattern=SLUG_PATTERN)
    label: str
    description: str
    control: bool = Field(
        default=False, description="An everyday-stress control condition, not a clinical risk."
    )
    stimuli: list[CrisisStimulus] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_ids(self) -> CrisisConditionFile:
        _unique("stimuli", [s.id for s in self.stimuli])
        for stimulus in self.stimuli:
            _check_kinds(stimulus.id, {c.kind for c in stimulus.criteria}, self.control)
        return self


# --------------------------------------------------------------------------- #
# Therapy transcripts used as context
# --------------------------------------------------------------------------- #
class Transcript(StrictModel):
    """A therapy session (synthetic, in-house) into which stimuli are inserted."""

    id: str = Field(pattern=SLUG_PATTERN)
    title: str
    condition: str
    description: str
    turns: list[Turn] = Field(min_length=4)

    @field_validator("turns")
    @classmethod
    def _alternate(cls, turns: list[Turn]) -> list[Turn]:
        for i, (before, after) in enumerate(zip(turns, turns[1:], strict=False), start=1):
            if before.role == after.role:
                raise ValueError(
                    f"turns {i - 1} and {i} are both {after.role}: turns must alternate"
                )
        return turns


# --------------------------------------------------------------------------- #
# Personas for multi-turn runs with a simulated client
# --------------------------------------------------------------------------- #
class TurnCriterion(StrictModel):
    """A yes/no question the judge asks of every assistant turn from ``from_turn`` on."""

    id: str = Field(pattern=SLUG_PATTERN)
    kind: CriterionKind
    question: str = Field(min_length=10)
    appropriate_answer: Literal["yes", "no"]
    from_turn: int = Field(default=1, ge=1)
    check: PatternCheck | None = None

    @field_validator("question")
    @classmethod
    def _question(cls, question: str) -> str:
        return _is_question(question)


class EscalationStep(StrictModel):
    """What the simulated client discloses or pushes for from a given turn on."""

    from_turn: int = Field(ge=1)
    behaviour: str = Field(min_length=10)


class Persona(StrictModel):
    """A simulated client: a person, not a symptom list, with a slow path to the risk.

    ``scripted_turns`` are the client's messages in order (the first opens the
    chat): scripted mode sends them whatever the assistant replies, so a run
    is reproducible and meaningful with no capable client model; simulated
    mode has an LLM play the persona from the other fields and opens with the
    first scripted turn.
    """

    id: str = Field(pattern=SLUG_PATTERN)
    name: str
    age: int = Field(ge=13, le=100)
    life_stage: Literal["adolescent", "young-adult", "middle-adult", "older-adult", "perinatal"]
    country: str
    condition: str = Field(pattern=SLUG_PATTERN)
    control: bool = False
    trajectory: Literal["escalating", "de-escalating", "fluctuating", "stable"]
    tags: list[StimulusTag] = Field(default_factory=list)
    background: str = Field(min_length=40)
    voice: str = Field(min_length=20, description="How the client writes.")
    wants: str = Field(description="What the client wants from the assistant.")
    hides: str = Field(description="What the client keeps back at first.")
    escalation: list[EscalationStep] = Field(min_length=2)
    scripted_turns: list[str] = Field(min_length=2, max_length=30)
    may_end: bool = Field(description="May the client end the chat early ([END] honoured)?")
    stop_when: str = Field(description="When a real person would end the conversation.")
    criteria: list[TurnCriterion] = Field(min_length=1)
    rationale: str = Field(min_length=10)
    features: list[int] = Field(min_length=1)

    @field_validator("escalation")
    @classmethod
    def _ordered(cls, steps: list[EscalationStep]) -> list[EscalationStep]:
        turns = [s.from_turn for s in steps]
        if turns != sorted(set(turns)):
            raise ValueError("escalation steps must have strictly increasing from_turn")
        return steps

    @field_validator("features")
    @classmethod
    def _known_features(cls, features: list[int]) -> list[int]:
        return _check_feature_ids(features)

    @field_validator("country")
    @classmethod
    def _country(cls, country: str) -> str:
        return _check_country(country) or country

    @model_validator(mode="after")
    def _kinds(self) -> Persona:
        _unique("criteria", [c.id for c in self.criteria])
        _check_kinds(self.id, {c.kind for c in self.criteria}, self.control)
        return self

    @property
    def opening_message(self) -> str:
        """The client's first message (the first scripted turn)."""
        return self.scripted_turns[0]


# --------------------------------------------------------------------------- #
# Loading with errors that name file and field
# --------------------------------------------------------------------------- #
M = TypeVar("M", bound=BaseModel)


def _check_feature_ids(features: list[int]) -> list[int]:
    unknown = [f for f in features if f not in FEATURE_IDS]
    if unknown:
        raise ValueError(f"unknown feature ids {unknown}; features are numbered 1..17")
    return features


def _unique(what: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for item in ids:
        if item in seen:
            raise ValueError(f"duplicate id {item!r} in {what}")
        seen.add(item)


def format_validation_error(source: str, error: ValidationError) -> str:
    """Render pydantic errors as ``file: field.path: message`` lines."""
    lines = []
    for err in error.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"{source}: {where}: {err['msg']}")
    return "\n".join(lines)


def parse_model(model: type[M], data: object, source: str) -> M:
    """Validate ``data`` against ``model``; errors name ``source`` and the field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StimulusFileError(format_validation_error(source, exc)) from None


def load_yaml_model(model: type[M], path: Path | str, text: str | None = None) -> M:
    """Read a YAML file and validate it; a YAML syntax error names file and line."""
    source = str(path)
    try:
        raw = text if text is not None else read_text(path, "stimulus file")
    except TextFileError as exc:
        raise StimulusFileError(str(exc)) from None
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise StimulusFileError(f"{source}:{line}: invalid YAML: {exc}") from None
    return parse_model(model, data, source)


# --------------------------------------------------------------------------- #
# Gold replies: labelled examples for calibrating judges and checks
# --------------------------------------------------------------------------- #
GoldType = Literal["appropriate", "harmful", "refusal", "boilerplate", "hard"]
HardCase = Literal[
    "warning-names-harm",
    "quotes-client",
    "hedge",
    "wrong-country",
    "good-until-last",
    "question-vs-statement",
    "partial",
    "other",
]


class GoldLabel(StrictModel):
    """The project's label for one criterion of one gold reply, with its reason."""

    answer: Literal["yes", "no"]
    reason: str = Field(min_length=5)


class GoldReply(StrictModel):
    """A reply written for a stimulus (or a persona's turn), labelled on every criterion."""

    stimulus: str = Field(pattern=SLUG_PATTERN, description="Stimulus or persona id.")
    id: str = Field(pattern=SLUG_PATTERN)
    turn: int | None = Field(
        default=None, ge=1, description="Personas: the scripted client turn the reply answers."
    )
    type: GoldType
    hard_case: HardCase | None = None
    reply: str = Field(min_length=1)
    labels: dict[str, GoldLabel] = Field(min_length=1)

    @model_validator(mode="after")
    def _hard_case(self) -> GoldReply:
        if self.type == "hard" and self.hard_case is None:
            raise ValueError("a hard gold reply names its hard_case")
        return self


class GoldFile(StrictModel):
    """``stimuli/gold/<condition>.yaml`` or ``gold/personas/<persona>.yaml``."""

    condition: str | None = Field(default=None, pattern=SLUG_PATTERN)
    persona: str | None = Field(default=None, pattern=SLUG_PATTERN)
    labelled_by: str = Field(
        default="project",
        description="Who labelled: 'project' (the project's own labels, not a clinical "
        "validation) or the annotators' names.",
    )
    replies: list[GoldReply] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_subject(self) -> GoldFile:
        if (self.condition is None) == (self.persona is None):
            raise ValueError("a gold file names either a condition or a persona")
        _unique("replies", [f"{r.stimulus}/{r.id}" for r in self.replies])
        return self
