"""Parsing model turns: every shape of output a real model produces, well-formed or not."""

import json

import pytest

from deepsport.parsing import ToolCall, parse_turn

CALL = '<tool_call>\n{"name": "choose_frames", "arguments": {"start": 2.0, "end": 4.0, "num_frames": 4}}\n</tool_call>'
ARGS = {"start": 2.0, "end": 4.0, "num_frames": 4}


def test_thought_and_tool_call():
    turn = parse_turn(f"<think>Look at the jump.</think>\n{CALL}")
    assert turn.think == "Look at the jump."
    assert turn.tool_calls == [ToolCall("choose_frames", ARGS)]
    assert turn.answer is None and turn.errors == [] and turn.rest == ""


def test_answer():
    turn = parse_turn("<think>It is 7.</think>\n<answer> 7 </answer>")
    assert (turn.think, turn.answer, turn.tool_calls) == ("It is 7.", "7", [])


@pytest.mark.parametrize(
    "text, answer",
    [
        ("<answer>red team</answer>", "red team"),
        ("<answer>cut off mid-answer", "cut off mid-answer"),  # generation hit the token limit
        ("Reasoning done.</think><answer>B</answer>", "B"),  # template opened <think> for the model
    ],
)
def test_answer_variants(text, answer):
    assert parse_turn(text).answer == answer


def test_several_calls_are_all_kept():
    second = CALL.replace("2.0", "6.0").replace("4.0", "8.0")
    turn = parse_turn(f"{CALL}\n{second}")
    assert [c.arguments["start"] for c in turn.tool_calls] == [2.0, 6.0]


@pytest.mark.parametrize(
    "payload, fragment",
    [
        ('{"name": "choose_frames", "arguments": {"start": 2.0,, }}', "not valid JSON"),
        ("choose_frames from 2 to 4", "holds no JSON object"),
        ('{"arguments": {"start": 1}}', '"name" string'),
        ('{"name": "choose_frames", "arguments": [1, 2]}', "must be a JSON object"),
        ('{"name": "choose_frames", "arguments": "{not json"}', "not a JSON object"),
    ],
)
def test_malformed_calls_become_readable_errors(payload, fragment):
    turn = parse_turn(f"<tool_call>{payload}</tool_call>")
    assert turn.tool_calls == []
    assert len(turn.errors) == 1 and fragment in turn.errors[0]
    assert '<tool_call>\n{"name": <tool-name>' in turn.errors[0]  # tells the model the right format
    assert turn.tagged


OBJ = '{"name": "choose_frames", "arguments": {"start": 2.0, "end": 4.0, "num_frames": 4}}'


@pytest.mark.parametrize(
    "text",
    [
        f"<tool_call>```json\n{OBJ}\n```</tool_call>",
        f"<tool_call>{json.dumps({'name': 'choose_frames', 'arguments': json.dumps(ARGS)})}</tool_call>",
        f"<tool_call>{OBJ.replace('arguments', 'parameters')}</tool_call>",
        f"<tool_call>\n{OBJ}",  # generation stopped before the closing tag
    ],
)
def test_tolerated_call_variants(text):
    assert parse_turn(text).tool_calls == [ToolCall("choose_frames", ARGS)]


def test_untagged_text():
    turn = parse_turn("The goalkeeper saves it.")
    assert not turn.tagged and turn.rest == "The goalkeeper saves it." and turn.answer is None


def test_thought_only():
    turn = parse_turn("<think>Hmm, not sure yet.</think>")
    assert not turn.tagged and turn.rest == "" and turn.think == "Hmm, not sure yet."
