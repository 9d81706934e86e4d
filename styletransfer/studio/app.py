"""The studio's page (Gradio Blocks): pick or upload a melody, choose a style or a blend, generate; see the
engraved score and the piano roll, hear each candidate, read its numbers, download MIDI, MusicXML and WAV.

Gradio keeps its uploads and the files it serves in its cache; ``serve`` points that cache
(GRADIO_TEMP_DIR) inside the studio's output folder and allows no other path, so the server writes and
serves only there.
"""
from __future__ import annotations

import math
import os
import re
import traceback
from pathlib import Path

import gradio as gr
import pandas as pd

from ..data.melody_file import MELODY_SUFFIXES
from ..errors import UserError
from ..eval.judge import StyleJudge
from ..model.runs import base_recipe, resolve_base
from ..io import inside
from .session import SHOWN, StudioResult, bundled_melodies, harmonize_file, style_choices

DEFAULT_MELODY = "happy_birthday.mid"


def _svg_html(svg_path: Path) -> str:
    svg = svg_path.read_text(encoding="utf-8")
    svg = re.sub(r"^<\?xml[^>]*>\s*", "", svg)
    return f'<div id="score-svg" style="overflow-x:auto;background:white">{svg}</div>'


def _metrics_table(result: StudioResult) -> pd.DataFrame:
    rows = []
    for view in result.candidates:
        row = {"candidate": view.rank}
        for name, value in view.metrics.items():
            row[name] = "–" if isinstance(value, float) and math.isnan(value) else round(value, 3)
        rows.append(row)
    return pd.DataFrame(rows)


def build_app(out_dir: Path, base: str | None = None, judge: StyleJudge | None = None) -> gr.Blocks:
    """The page; every request writes one new folder under ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    melodies = bundled_melodies()
    styles = style_choices(base)
    defaults = base_recipe(resolve_base(base)).transfer
    default_style = next((s for s in styles if "bach" in s), styles[0])

    def run(bundled, upload, style, blend, candidates, seed, temperature, last, redo_bars):
        empty = [None] * (3 + SHOWN + 2)
        try:
            if redo_bars is not None:  # "Redo bars": the melody and the result the page shows now
                if not last:
                    raise UserError("generate first: bars are redone in the result on the page")
                melody, keep = Path(last[0]), Path(last[1])
            elif upload:
                melody, keep = Path(upload), None
            elif bundled in melodies:
                melody, keep = melodies[bundled], None
            else:
                raise UserError("choose a bundled melody or upload one")
            wanted = (blend or "").strip() or style
            class_for = None
            if judge is not None and "=" not in wanted and wanted != "none":
                try:
                    class_for = judge.class_for(wanted.replace("-", " "))
                except UserError:
                    class_for = None
            result = harmonize_file(melody, out_dir, wanted, int(candidates), int(seed), float(temperature), base,
                                    judge, class_for, keep=keep, redo_bars=redo_bars)
        except UserError as exc:
            return [f"**Could not harmonize:** {exc}", *empty[1:], last]
        except Exception as exc:  # noqa: BLE001 - one line in the page, the traceback only in the server's log
            traceback.print_exc()
            return [f"**Something went wrong:** {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}",
                    *empty[1:], last]
        files = [p for p in (result.midi, result.musicxml, result.wav) if inside(p, out_dir)]
        audio = [str(v.wav) for v in result.candidates] + [None] * (SHOWN - len(result.candidates))
        redone = f", bars {redo_bars} written again" if redo_bars is not None else ""
        status = (f"**{result.label}**, seed {int(seed)}{redone}: {len(result.candidates)} candidates shown, "
                  f"the best first ({result.seconds:.1f} s)")
        return [status, _svg_html(result.svg), str(result.png), *audio, _metrics_table(result),
                [str(p) for p in files], [str(result.melody), str(result.midi)]]

    def generate(bundled, upload, style, blend, candidates, seed, temperature, last):
        return run(bundled, upload, style, blend, candidates, seed, temperature, last, None)

    def redo(bundled, upload, style, blend, candidates, seed, temperature, last, bars):
        return run(bundled, upload, style, blend, candidates, seed, temperature, last, (bars or "").strip())

    with gr.Blocks(title="mst studio", analytics_enabled=False) as app:
        gr.Markdown("# mst studio\nA melody, kept note for note, harmonized in a composer's style.")
        with gr.Row():
            with gr.Column(scale=1):
                bundled = gr.Dropdown(choices=list(melodies), value=DEFAULT_MELODY if DEFAULT_MELODY in melodies else None,
                                      label="Bundled melody", elem_id="bundled")
                upload = gr.File(label="…or upload one (MIDI, MusicXML, ABC, kern)", file_types=list(MELODY_SUFFIXES),
                                 type="filepath", elem_id="upload")
                style = gr.Dropdown(choices=styles, value=default_style, label="Style", elem_id="style")
                blend = gr.Textbox(label="Blend (instead of the style)", placeholder="bach=0.7,palestrina=0.3",
                                   elem_id="blend")
                candidates = gr.Slider(1, 64, value=defaults.candidates, step=1, label="Candidates",
                                       elem_id="candidates")
                seed = gr.Number(value=0, precision=0, label="Seed", elem_id="seed")
                temperature = gr.Slider(0.1, 1.5, value=defaults.temperature, step=0.05, label="Temperature",
                                        elem_id="temperature")
                go = gr.Button("Generate", variant="primary", elem_id="generate")
                bars = gr.Textbox(label="Redo bars (keep the rest of the result shown)", placeholder="5-8",
                                  elem_id="redo-bars")
                again = gr.Button("Redo these bars", elem_id="redo")
                last = gr.State(None)  # (melody, best MIDI) of the result on the page
            with gr.Column(scale=2):
                status = gr.Markdown(elem_id="status")
                score = gr.HTML(elem_id="score")
                roll = gr.Image(label="Piano roll (melody in red)", type="filepath", elem_id="roll")
                players = [gr.Audio(label=f"Candidate {k + 1}" + (" (the best)" if k == 0 else ""), type="filepath",
                                    elem_id=f"audio-{k + 1}") for k in range(SHOWN)]
                metrics = gr.Dataframe(label="Each candidate's numbers", elem_id="metrics")
                downloads = gr.File(label="Downloads: MIDI, MusicXML, WAV", file_count="multiple", elem_id="downloads")
        settings = [bundled, upload, style, blend, candidates, seed, temperature, last]
        shown = [status, score, roll, *players, metrics, downloads, last]
        go.click(generate, inputs=settings, outputs=shown)
        again.click(redo, inputs=[*settings, bars], outputs=shown)
    return app


def serve(host: str, port: int, out_dir: Path, base: str | None = None, judge_dir: Path | None = None,
          block: bool = True):
    """Start the studio on ``host:port``; files only under ``out_dir``."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["GRADIO_TEMP_DIR"] = str(out_dir / ".gradio")  # uploads and served copies: inside out_dir
    judge = StyleJudge.load(judge_dir) if judge_dir is not None else None
    app = build_app(out_dir, base, judge)
    app.queue(default_concurrency_limit=1)  # one transfer at a time: the CPU has two cores
    app.launch(server_name=host, server_port=port, allowed_paths=[str(out_dir)], quiet=True,
               prevent_thread_lock=not block, footer_links=[])
    return app
