"""Our two experiments on the paper's exact prompts: ``paper_stigma`` and ``paper_crisis``.

They reuse our solvers and scorers (``answer_by_letter`` + ``stigma_choice``;
``generate`` + ``criteria_judge``), so their outcomes are the same kind as
those of ``therapy_audit/stigma`` and ``therapy_audit/crisis`` and the same
analysis reads them. What differs is the material: the paper's 1,008 stigma
prompts (72 vignettes x 14 questions, options in the paper's order, coded by
option text with our battery's codes) and the paper's 10 client stimuli as
its results files give them. Sample ids match the ``sample_id`` column of
:func:`therapy_audit.replication.results.paper_results`, so a new model's
answers line up with the paper's item by item.

    inspect eval therapy_audit/paper_stigma -T paper_dir=PATH --model M
    inspect eval therapy_audit/paper_crisis -T paper_dir=PATH --model M --model-role grader=J
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageUser
from inspect_ai.solver import generate, system_message

from therapy_audit.answering.solver import ANSWER_MODES, AnswerMode, answer_by_letter
from therapy_audit.experiments.common import keep_shard, task_metadata
from therapy_audit.experiments.crisis.scorer import JUDGE_MODES, criteria_judge
from therapy_audit.experiments.crisis.task import DEFAULT_JUDGE_SEED
from therapy_audit.experiments.stigma.scorer import stigma_choice
from therapy_audit.metrics import scored_mean
from therapy_audit.prompts import JUDGE_REVISION, resolve_system_prompt
from therapy_audit.replication.crisis_stimuli import (
    PaperCrisisStimulus,
    load_paper_stimuli,
    result_files,
)
from therapy_audit.replication.paper_files import check_paper_dir
from therapy_audit.replication.stigma_battery import (
    PAPER_STIMULUS_VERSION,
    PROMPTS_FILE,
    PaperStigmaItem,
    load_paper_items,
    prompts_fingerprint,
)
from therapy_audit.stimuli.load import StimulusSet

TASK_VERSION = "1.0.0"
#: The paper's protocol, kept on purpose (our crisis task reads whole replies):
#: replies cut to 1,024 characters before judging, 300 tokens to reply.
PAPER_CHAR_LIMIT = 1024
PAPER_REPLY_TOKENS = 300


def stigma_item_sample(item: PaperStigmaItem) -> Sample:
    """One paper prompt as a Sample, its options coded by text in metadata."""
    return Sample(id=item.sample_id, input=item.prompt, metadata=item.metadata())


@task
def paper_stigma(
    paper_dir: str,
    system_prompt: str = "none",
    answer_mode: AnswerMode = "auto",
    shard: str | None = None,
) -> Task:
    """The stigma experiment on the paper's own 1,008 prompts.

    Args:
        paper_dir: root of the paper's release (holding ``data/`` and ``results/``).
        system_prompt: ``none``, ``steel-man`` or a path to a text file.
        answer_mode: ``auto`` (log-probabilities where the provider gives
            them, text otherwise), ``logprobs`` or ``text``.
        shard: ``"i/N"``: only every N-th prompt (one worker of ``run --workers N``).
    """
    if answer_mode not in ANSWER_MODES:
        raise ValueError(f"answer_mode must be one of {ANSWER_MODES}, got {answer_mode!r}")
    root = check_paper_dir(paper_dir)
    prompt_label, prompt_text = resolve_system_prompt(system_prompt)
    samples = keep_shard([stigma_item_sample(item) for item in load_paper_items(root)], shard)
    solver: list[Any] = [answer_by_letter(answer_mode)]
    if prompt_text:
        solver.insert(0, system_message(prompt_text))
    stimulus_set = StimulusSet(
        source=str(root / PROMPTS_FILE),
        version=PAPER_STIMULUS_VERSION,
        fingerprint=prompts_fingerprint(root),
    )
    return Task(
        dataset=MemoryDataset(samples, name="moore2025-stigma"),
        solver=solver,
        scorer=stigma_choice(),
        epochs=Epochs(1, scored_mean()),
        version=TASK_VERSION,
        metadata={
            **task_metadata("stigma", stimulus_set, prompt_label, shard),
            "replication": True,
            "answer_mode": answer_mode,
        },
    )


def stimulus_messages(stimulus: PaperCrisisStimulus) -> list[ChatMessage]:
    """Turns as chat messages: client turns are the user, earlier therapist turns the assistant."""
    return [
        ChatMessageUser(content=text) if i % 2 == 0 else ChatMessageAssistant(content=text)
        for i, text in enumerate(stimulus.turns)
    ]


def crisis_stimulus_sample(stimulus: PaperCrisisStimulus) -> Sample:
    """One paper stimulus as a Sample with the metadata ``criteria_judge`` reads."""
    return Sample(
        id=stimulus.sample_id,
        input=stimulus_messages(stimulus),
        metadata={
            "experiment": "crisis",
            "condition": stimulus.condition,
            "paper_condition": stimulus.paper_condition,
            "control": False,
            "stimulus": stimulus.id,
            "framing": "unspecified",
            "multi_turn": stimulus.multi_turn,
            "criteria": [
                {
                    "id": "paper",
                    "kind": "safety" if stimulus.appropriate_answer == "no" else "care",
                    "question": stimulus.criterion,
                    "appropriate_answer": stimulus.appropriate_answer,
                    "paper_rule": True,
                }
            ],
            "criterion": stimulus.criterion,
            "appropriate_answer": stimulus.appropriate_answer,
            "has_check": False,
            "wording": 0,
            "context": "none",
            "insert_at": "none",
            "context_turns": 0,
            "paper_files": stimulus.files,
            "criterion_variants": len(stimulus.variants),
        },
    )


def _fingerprint(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


@task
def paper_crisis(
    paper_dir: str,
    system_prompt: str = "none",
    char_limit: int = PAPER_CHAR_LIMIT,
    reply_tokens: int = PAPER_REPLY_TOKENS,
    judge: Literal["auto", "model", "checks"] = "auto",
    judges: str = "grader",
    judge_seed: int = DEFAULT_JUDGE_SEED,
) -> Task:
    """The appropriate-response experiment on the paper's 10 client stimuli (no transcript).

    The paper's transcripts are licensed and absent from its release, so
    stimuli are asked on their own (the paper's ``message_number`` 0).
    The paper's stimuli carry no deterministic check, so ``judge="checks"``
    is refused; with only the embedded model as judge every verdict is
    ``unjudged`` unless ``judge="model"`` forces it (then a smoke test). Each
    stimulus has the paper's one criterion, so the combined rate is the
    paper's rule.

    Args:
        paper_dir: root of the paper's release (holding ``data/`` and ``results/``).
        system_prompt: ``none``, ``steel-man`` or a path to a text file.
        char_limit: replies are cut to this many characters before judging.
        reply_tokens: the respondent's token budget for a reply.
        judge: ``auto`` or ``model`` (both use the LLM judge here).
        judges: comma-separated model roles forming the judge ensemble.
        judge_seed: seed for the per-sample order of the judge's yes/no options.
    """
    if judge not in JUDGE_MODES:
        raise ValueError(f"judge must be one of {JUDGE_MODES}, got {judge!r}")
    if judge == "checks":
        raise ValueError("judge='checks' needs deterministic checks; the paper's stimuli have none")
    if char_limit < 1:
        raise ValueError("char_limit must be a positive number of characters")
    root = check_paper_dir(paper_dir)
    prompt_label, prompt_text = resolve_system_prompt(system_prompt)
    stimuli = load_paper_stimuli(root)
    solver: list[Any] = []
    if prompt_text:
        solver.append(system_message(prompt_text))
    solver.append(generate(max_tokens=reply_tokens))
    files = result_files(root)
    stimulus_set = StimulusSet(
        source=str(root / "results" / "interjections"),
        version=PAPER_STIMULUS_VERSION,
        fingerprint=_fingerprint(files),
    )
    judge_roles = [r.strip() for r in judges.split(",") if r.strip()]
    metadata = task_metadata("crisis", stimulus_set, prompt_label)
    metadata.update(
        {
            "replication": True,
            "judge_revision": JUDGE_REVISION,
            "judge_seed": judge_seed,
            "char_limit": char_limit,
            "judge_mode": judge,
            "judge_roles": judge_roles,
        }
    )
    return Task(
        dataset=MemoryDataset(
            [crisis_stimulus_sample(s) for s in stimuli], name="moore2025-crisis"
        ),
        solver=solver,
        scorer=criteria_judge(judge, judge_roles, char_limit, judge_seed),
        epochs=Epochs(1, scored_mean()),
        version=TASK_VERSION,
        metadata=metadata,
    )
