"""``deepsport library add|info`` and ``deepsport coach [attempt] VIDEO`` / ``deepsport coach eval BENCH``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from deepsport import flags
from deepsport.console import console, default_command, err_console, fail

library_app = typer.Typer(no_args_is_help=True, help="Libraries of instructional clips: `library add`, `library info`.")
coach_app = typer.Typer(
    cls=default_command("attempt"),
    no_args_is_help=True,
    help="Which instructional clip should I watch? `coach VIDEO --library LIB`, `coach eval BENCH`.",
)

LibraryPath = Annotated[Path, typer.Option("--library", "-l", help="The library folder.")]
EmbeddingsUrl = Annotated[
    str | None,
    typer.Option(help="An OpenAI-compatible endpoint serving /v1/embeddings, e.g. http://127.0.0.1:8000/v1."),
]
ApiKeyEnv = Annotated[str, typer.Option(help="Environment variable holding the endpoint's API key.")]


def warn(message: str) -> None:
    err_console.print(f"[yellow]Warning:[/] {escape(message)}", soft_wrap=True)


@library_app.command("add")
def library_add(
    source: Annotated[Path, typer.Argument(help="A folder of videos with .srt/.vtt beside them, or a JSONL file.")],
    library: LibraryPath,
    video_root: Annotated[Path | None, typer.Option(help="Where JSONL videos are (default: the JSONL's folder).")] = (
        None
    ),
    sport: Annotated[str | None, typer.Option(help="Sport of every segment (default: the first folder).")] = None,
    skill: Annotated[str | None, typer.Option(help="Skill of every segment (default: the folders below).")] = None,
    pose: Annotated[bool, typer.Option(help="Measure pose signatures (needs MediaPipe).")] = True,
    embeddings_url: EmbeddingsUrl = None,
    embeddings_model: Annotated[str | None, typer.Option(help="The embedding model at --embeddings-url.")] = None,
    api_key_env: ApiKeyEnv = "OPENAI_API_KEY",
) -> None:
    """Add narrated clips to a library (created if new). Segments already there are skipped, so a killed run
    resumes where it stopped."""
    from deepsport.coach.library import Library, LibraryError, read_input
    from deepsport.coach.ranking import Embedder, EmbeddingError, Index, add_embeddings
    from deepsport.jobs import progress_bar

    if bool(embeddings_url) != bool(embeddings_model):
        raise fail("--embeddings-url and --embeddings-model go together")
    try:
        segments, warnings = read_input(source, video_root, sport, skill)
    except LibraryError as err:
        raise fail(str(err)) from None
    for message in warnings:
        warn(message)
    measure, estimator = None, None
    if pose:
        from deepsport.coach.signature import segment_measure
        from deepsport.pose.estimator import PoseEstimator, PoseUnavailable

        try:
            estimator = PoseEstimator()
            measure = segment_measure(estimator, warn)
        except PoseUnavailable as err:
            warn(f"no pose signatures: {err}")
    target = Library(library)
    try:
        with progress_bar(err_console) as bar:
            task = bar.add_task("Segments", total=len(segments))
            added, present = target.add(segments, measure, lambda n: bar.advance(task, n))
        if embeddings_url and embeddings_model:
            with err_console.status("Embedding the narration…"):
                add_embeddings(target, Embedder(embeddings_url, embeddings_model, api_key_env))
        Index(target)  # builds and saves the BM25 index
    except (LibraryError, EmbeddingError) as err:
        raise fail(str(err)) from None
    finally:
        if estimator is not None:
            estimator.close()
    skipped = f" ({present} already there)" if present else ""
    console.print(f"Added {added} segments to {escape(str(library))}{skipped}; see: deepsport library info {library}")


@library_app.command("info")
def library_info(
    library: Annotated[Path, typer.Argument(help="The library folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Counts of a library's segments per sport and skill."""
    from deepsport.coach.library import Library, LibraryError

    try:
        info = Library(library).info()
    except LibraryError as err:
        raise fail(str(err)) from None
    if as_json:
        print(json.dumps(info, indent=2))
        return
    console.print(
        f"{info['segments']} segments from {info['videos']} videos ({info['hours']:.2f} h), "
        f"{info['with_pose']} with a pose signature"
        + (f"; embeddings: {escape(info['embeddings']['model'])}" if info["embeddings"] else "")
    )
    table = Table("sport / skill", "segments", title="Per sport and skill", title_justify="left")
    for sport, count in info["sports"].items():
        table.add_row(f"[bold]{escape(sport)}[/]", str(count))
        for name, n in info["skills"].items():
            if name.startswith(f"{sport}/"):
                table.add_row(f"  {escape(name.split('/', 1)[1])}", str(n))
    console.print(table)


@coach_app.command("attempt")
def coach_attempt(
    video: Annotated[Path, typer.Argument(help="The attempt: a video of the athlete.")],
    library: LibraryPath,
    sport: Annotated[str | None, typer.Option(help="Only clips of this sport.")] = None,
    question: Annotated[str | None, typer.Option(help="What the athlete asks, e.g. 'why do I miss long?'.")] = None,
    start: Annotated[float | None, typer.Option(min=0.0, help="The attempt starts here (s).")] = None,
    end: Annotated[float | None, typer.Option(min=0.0, help="The attempt ends here (s).")] = None,
    top_k: Annotated[int, typer.Option(min=1, max=50, help="Clips to recommend.")] = 5,
    assess: Annotated[bool, typer.Option(help="Have the model name the mistakes first (off: pose and --question).")] = (
        True
    ),
    model: Annotated[str | None, typer.Option(help="Hub id, checkpoint directory or endpoint model name.")] = None,
    backend: Annotated[str, typer.Option(help="transformers or openai.")] = "transformers",
    base_url: Annotated[str | None, typer.Option(help="Endpoint URL for --backend openai.")] = None,
    api_key_env: ApiKeyEnv = "OPENAI_API_KEY",
    device: Annotated[str, typer.Option(help="Device for --backend transformers: auto, cpu, cuda.")] = "auto",
    max_turns: flags.MaxTurns = None,
    max_new_tokens: flags.MaxNewTokens = None,
    temperature: flags.Temperature = None,
    embeddings_url: EmbeddingsUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
    html: Annotated[Path | None, typer.Option(help="Write an HTML page: the attempt beside each clip.")] = None,
) -> None:
    """Assess an attempt and recommend the instructional clips that fix its mistakes."""
    from deepsport.coach.assess import Coaching, attempt_signature, recommend
    from deepsport.coach.library import LibraryError
    from deepsport.coach.ranking import load_index
    from deepsport.pose.estimator import PoseUnavailable
    from deepsport.video import Video, VideoError

    shown = err_console if as_json else console
    try:
        Video(video).close()
        index = load_index(library, embeddings_url, api_key_env)
    except (VideoError, LibraryError) as err:
        raise fail(str(err)) from None
    trajectory = None
    if assess:
        given = dict(max_turns=max_turns, max_new_tokens=max_new_tokens, temperature=temperature)
        trajectory = _assess(video, sport, question, model, backend, base_url, api_key_env, device, given, shown)
    try:
        with shown.status("Measuring the attempt's pose…"):
            signature = attempt_signature(video, start, end)
    except PoseUnavailable as err:
        warn(f"{err}; ranking by text only")
        signature = None
    except VideoError as err:
        raise fail(str(err)) from None
    mistakes = trajectory.answer if trajectory is not None else None
    try:
        result: Coaching = recommend(index, video, sport, question, mistakes, signature, top_k, start, end)
    except LibraryError as err:
        raise fail(str(err)) from None
    result.trajectory = trajectory
    if html:
        from deepsport.coach.page import write_page

        write_page(result, html)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    _print_coaching(result, html)


def _assess(
    video: Path,
    sport: str | None,
    question: str | None,
    model: str | None,
    backend: str,
    base_url: str | None,
    api_key_env: str,
    device: str,
    given: dict[str, Any],
    shown: Any,
) -> Any:
    """The agent's assessment of the attempt (a Trajectory); one-line failures."""
    from deepsport.agent_config import AgentConfig
    from deepsport.backends import DEFAULT_MODEL, BackendError, load_chat_model
    from deepsport.coach.assess import assess
    from deepsport.config import ConfigError, load_config
    from deepsport.live import ConsoleObserver
    from deepsport.video import VideoError

    try:
        config = load_config(AgentConfig, None, flags.overrides(flags.AGENT_KEYS, **given), "agent")
    except ConfigError as err:
        raise fail(str(err)) from None
    name = model or DEFAULT_MODEL
    try:
        with shown.status(f"Loading {escape(name)} ({backend})…"):
            chat_model = load_chat_model(name, backend, base_url=base_url, api_key_env=api_key_env, device=device)
    except BackendError as err:
        raise fail(str(err)) from None
    try:
        trajectory = assess(video, chat_model, config, sport, question, backend, ConsoleObserver(shown))
    except VideoError as err:
        raise fail(str(err)) from None
    finally:
        chat_model.close()
    if trajectory.stop_reason == "error":
        raise fail(trajectory.error or "the model failed")
    if trajectory.answer is None:
        warn("the model named no mistake; ranking by the pose and --question")
    return trajectory


def _print_coaching(result: Any, html: Path | None) -> None:
    if result.mistakes:
        console.print(f"[bold]Likely mistakes:[/] {escape(result.mistakes)}")
    for note in result.notes:
        console.print(f"[yellow]Note:[/] {escape(note)}")
    if not result.matches:
        console.print("No clip in the library matches.")
    for rank, match in enumerate(result.matches, 1):
        s = match.segment
        console.print(
            f"[bold]{rank}. {escape(Path(s.video).name)} {s.start:.2f}–{s.end:.2f}s[/] "
            f"[dim]({escape(s.sport)}, {escape(s.skill)})[/]\n   “{escape(s.text)}”\n"
            f"   [dim]why: {escape(match.why())}[/]"
        )
    if html:
        console.print(f"[dim]page written to {escape(str(html))}[/]")


@coach_app.command("eval")
def coach_eval(
    benchmark: Annotated[Path, typer.Argument(help="Queries JSONL: id, relevant, sport, text, video, start, end.")],
    library: LibraryPath,
    video_root: Annotated[Path | None, typer.Option(help="Where the attempt videos are (default: beside it).")] = None,
    signals: Annotated[
        list[str] | None, typer.Option("--signals", help="Rankers to compare: text, pose, text+pose (repeatable).")
    ] = None,
    embeddings_url: EmbeddingsUrl = None,
    api_key_env: ApiKeyEnv = "OPENAI_API_KEY",
    as_json: Annotated[bool, typer.Option("--json", help="Print the metrics and each query's ranks as JSON.")] = False,
) -> None:
    """Recall@1, recall@5 and MRR of the library's ranking on a benchmark, per sport, for each set of signals."""
    from deepsport.coach.benchmark import attempt_signatures, evaluate, load_queries
    from deepsport.coach.library import LibraryError
    from deepsport.coach.ranking import SIGNALS, load_index
    from deepsport.pose.estimator import PoseUnavailable
    from deepsport.video import VideoError

    chosen = signals or ["text", "pose", "text+pose"]
    bad = [s for s in chosen if not s or any(part not in SIGNALS for part in s.split("+"))]
    if bad:
        raise fail(f"unknown signals {bad[0]!r}; use text, pose or text+pose")
    try:
        queries = load_queries(benchmark)
        index = load_index(library, embeddings_url, api_key_env)
        needs_pose = any("pose" in s for s in chosen) and any(q.video for q in queries)
        with err_console.status("Measuring the attempts' poses…"):
            attempts = attempt_signatures(queries, video_root or benchmark.parent) if needs_pose else {}
        results = [evaluate(index, queries, attempts, tuple(s.split("+"))) for s in chosen]
    except (LibraryError, PoseUnavailable, VideoError) as err:
        raise fail(str(err)) from None
    if as_json:
        print(json.dumps(results, indent=2))
        return
    table = Table("signals", "sport", "queries", "R@1", "R@5", "MRR", title=f"{benchmark.name}: {len(queries)} queries")
    for result in results:
        rows = [("all", result["overall"]), *result["by_sport"].items()]
        for sport, m in rows:
            cells = [str(m["queries"]), f"{m['recall@1']:.3f}", f"{m['recall@5']:.3f}", f"{m['mrr']:.3f}"]
            table.add_row(result["signals"] if sport == "all" else "", escape(sport), *cells)
    console.print(table)
    if index.warning:
        warn(index.warning)
