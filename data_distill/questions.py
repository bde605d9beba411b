"""Question templates per task type, and the one function that turns an annotation into a QAItem.

Every item is deterministic: its id is a hash of (source, template, video, key), and the phrasing and the
order of its options are drawn from a random generator seeded by that id, so re-running an adapter on the
same files gives identical items. Answers follow the formats ``deepsport.scoring`` reads: a choice is the
option letter, a number a number string, a time "12.5" (a moment) or "12.5-15.0" (a span) in seconds.
The question text is complete on its own (options listed, answer format said), as the agent sees only it.
"""

from __future__ import annotations

import hashlib
import json
import random
import string
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from deepsport.schemas import DIMENSIONS, TASK_TYPES, AnswerType, QAItem, Span

MAX_OPTIONS = 4

FORMAT_HINTS: dict[str, str] = {
    "choice": "Answer with the letter of the correct option.",
    "number": "Answer with a number.",
    "moment": "Answer with the time in seconds from the start of the video (e.g. 12.5).",
    "span": "Answer with the start and end in seconds from the start of the video (e.g. 12.5-15.0).",
    "text": "",
}


@dataclass(frozen=True)
class Template:
    """A kind of question: its task type, dimension, answer type and phrasings ({fields} filled per item).
    ``pose``: the answer is in how the athlete's body moves (angles, heights), which ``estimate_pose`` measures;
    the oracle teacher shows that tool on it."""

    task_type: str
    dimension: str
    answer_type: AnswerType
    phrasings: tuple[str, ...]
    hint: str = ""  # key of FORMAT_HINTS; defaults to the answer type's
    pose: bool = False

    def __post_init__(self) -> None:
        assert self.task_type in TASK_TYPES and self.dimension in DIMENSIONS, self


def _t(task: str, dimension: str, answer: AnswerType, *phrasings: str, hint: str = "", pose: bool = False) -> Template:
    return Template(task, dimension, answer, phrasings, hint, pose)


TEMPLATES: dict[str, Template] = {
    # --- recognition: what is it? ------------------------------------------------------------------------
    "event_at": _t(
        "recognition",
        "recognition",
        "choice",
        "What happens at {time} s in this video?",
        "Which event takes place around {time} s?",
    ),
    "action_in_span": _t(
        "recognition",
        "recognition",
        "choice",
        "Which action is performed between {start} s and {end} s?",
        "What does the athlete do from {start} s to {end} s?",
    ),
    "action_in_clip": _t(
        "recognition", "recognition", "choice", "Which action is shown in this video?", "What is the person doing?"
    ),
    "event_in_clip": _t(
        "recognition", "recognition", "choice", "Which of these happens in this clip?", "What happens in this play?"
    ),
    "camera_view": _t(
        "recognition",
        "recognition",
        "choice",
        "From which side does the camera film the person?",
        "Which side of the person faces the camera?",
    ),
    "foul_class": _t(
        "recognition",
        "recognition",
        "choice",
        "What kind of challenge leads to this foul situation?",
        "Which type of action does the player commit here?",
    ),
    "takeoff": _t(
        "recognition",
        "recognition",
        "choice",
        "In which direction does the diver take off?",
        "Which dive group does the take-off belong to?",
    ),
    "dive_position": _t(
        "recognition",
        "recognition",
        "choice",
        "In which body position are the somersaults performed?",
        "What position does the diver hold during the somersaults?",
        pose=True,  # tuck, pike, straight: the hip and knee angles
    ),
    "element": _t(
        "recognition",
        "recognition",
        "choice",
        "Which element does the gymnast perform between {start} s and {end} s?",
        "Name the element performed from {start} s to {end} s.",
    ),
    "element_attribute": _t(
        "recognition",
        "recognition",
        "choice",
        "About the element performed between {start} s and {end} s: {attribute}",
        pose=True,  # FineGym's attributes are about the body: salto, turns, stretched or bent
    ),
    "shot_outcome": _t(
        "recognition",
        "recognition",
        "choice",
        "Does the {shot} in this play go in?",
        "Is the {shot} made or missed?",
    ),
    # --- temporal localisation: when does it happen? ----------------------------------------------------------
    "when_event": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "When does the {label} happen?",
        "At what time is the {label}?",
        hint="moment",
    ),
    "when_event_window": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "Between {start} s and {end} s there is one {label}. When does it happen?",
        hint="moment",
    ),
    "when_phase": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "When does the {label} phase take place?",
        "During which time span is the {label} performed?",
        hint="span",
    ),
    "when_entry": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "When does the diver enter the water?",
        "At what moment does the diver hit the water?",
        hint="moment",
    ),
    "when_joint_highest": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "When is the person's {joint} at its highest point?",
        "At what time does the {joint} reach its highest position?",
        hint="moment",
        pose=True,  # the arm's angles over the movement
    ),
    "when_action": _t(
        "temporal_localisation",
        "recognition",
        "time_span",
        "When does the {label} happen?",
        "During which time span does the {label} take place?",
        hint="span",
    ),
    # --- counting -------------------------------------------------------------------------------------
    "count_events": _t(
        "counting",
        "recognition",
        "number",
        "How many {label} events are there in this video?",
        "Count the {label} events in this video.",
    ),
    "count_somersaults": _t(
        "counting", "recognition", "number", "How many somersaults does the diver perform?", "How many somersaults?"
    ),
    "count_twists": _t(
        "counting", "recognition", "number", "How many twists does the diver perform?", "How many twists are there?"
    ),
    # --- rules and refereeing ---------------------------------------------------------------------------
    "restart": _t(
        "rules",
        "rules",
        "choice",
        "The {event} happens at {time} s. How is play restarted?",
        "After the {event} at {time} s, what restart does the referee give?",
    ),
    "offence": _t(
        "rules",
        "rules",
        "choice",
        "Is this challenge a foul?",
        "Should the referee give a foul for this action?",
    ),
    "sanction": _t(
        "rules",
        "rules",
        "choice",
        "Which disciplinary sanction does this foul deserve?",
        "What card, if any, should the referee show?",
    ),
    "foul_type": _t(
        "rules",
        "rules",
        "choice",
        "Which foul or violation does the referee call in this play?",
        "What is the call on this play?",
    ),
    # --- assessment and scoring ---------------------------------------------------------------------------
    "dive_difficulty": _t(
        "assessment", "assessment", "number", "What is the degree of difficulty of this dive?", "What is the DD?"
    ),
    "dive_score": _t(
        "assessment",
        "assessment",
        "number",
        "What score do the judges award this dive?",
        "What is the final score of this dive?",
    ),
    "vault_difficulty": _t(
        "assessment",
        "assessment",
        "number",
        "What is the difficulty value of the vault performed between {start} s and {end} s?",
    ),
    # --- commentary ---------------------------------------------------------------------------------------
    "commentary": _t(
        "commentary",
        "commentary",
        "text",
        "Commentate on what happens between {start} s and {end} s.",
        "What would a commentator say about the play from {start} s to {end} s?",
    ),
    "play_caption": _t(
        "commentary",
        "commentary",
        "text",
        "Describe this play in one play-by-play sentence.",
        "Write the play-by-play line for this clip.",
    ),
}


def seconds(value: float) -> str:
    """A time in seconds as the answers and questions write it: two decimals at most, one at least ("12.5")."""
    text = f"{value:.2f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def span_text(start: float, end: float) -> str:
    return f"{seconds(start)}-{seconds(end)}"


def number(value: float) -> str:
    """A number answer: integers without a decimal point, others with up to three decimals."""
    value = round(float(value), 3)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def item_id(source: str, template: str, video: str, key: Any) -> str:
    digest = hashlib.sha256(json.dumps([source, template, video, key], sort_keys=True).encode()).hexdigest()
    return f"{source}-{template}-{digest[:16]}"


def rng_for(item: str) -> random.Random:
    return random.Random(int(hashlib.sha256(item.encode()).hexdigest()[:16], 16))


def shuffled_options(item: str, correct: str, pool: Iterable[str], k: int = MAX_OPTIONS) -> tuple[list[str], str]:
    """``correct`` plus up to k-1 distractors drawn from ``pool``, in an order seeded by the item id; returns the
    options and the letter of the correct one."""
    rng = rng_for(item + "/options")
    distractors = sorted(set(pool) - {correct})
    options = [correct, *rng.sample(distractors, min(k - 1, len(distractors)))]
    rng.shuffle(options)
    return options, string.ascii_uppercase[options.index(correct)]


def make_item(
    template: str,
    *,
    source: str,
    sport: str,
    video: str,
    key: Any,
    answer: str | float | None = None,
    correct: str | None = None,
    pool: Iterable[str] = (),
    options: Sequence[str] | None = None,
    evidence: Span | None = None,
    metadata: dict[str, Any] | None = None,
    **fields: Any,
) -> QAItem | None:
    """One item from a template. For a choice, give ``correct`` and a ``pool`` of distractors (the options are
    drawn and shuffled here), or ready-made ``options`` with ``answer`` their letter. Returns None when a choice
    would have fewer than two options. ``fields`` fill the phrasing; ``key`` makes the id unique per video."""
    spec = TEMPLATES[template]
    identifier = item_id(source, template, video, key)
    if spec.answer_type == "choice" and options is None:
        options, answer = shuffled_options(identifier, str(correct), pool)
    if spec.answer_type == "choice" and (options is None or len(options) < 2):
        return None
    question = rng_for(identifier + "/phrasing").choice(spec.phrasings).format(**fields)
    if options is not None:
        question += "\n" + "\n".join(f"{string.ascii_uppercase[i]}. {text}" for i, text in enumerate(options))
    hint = FORMAT_HINTS[spec.hint or spec.answer_type]
    return QAItem(
        id=identifier,
        video=video,
        question=f"{question}\n{hint}" if hint else question,
        answer=str(answer),
        answer_type=spec.answer_type,
        options=list(options) if options is not None else None,
        sport=sport,
        dimension=spec.dimension,
        task_type=spec.task_type,
        source=source,
        evidence=evidence,
        metadata={"template": template, **(metadata or {})},
    )


def nonempty(item: QAItem | None) -> list[QAItem]:
    """``[item]``, or nothing when ``make_item`` gave None (a choice with fewer than two options); for
    ``yield from nonempty(make_item(...))`` in adapters, which yield QAItems only."""
    return [item] if item is not None else []
