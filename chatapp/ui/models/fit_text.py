"""The "Fits here?" column in words: a short verdict, and the figures for its tooltip."""

from __future__ import annotations

from PySide6.QtCore import QObject

from chatapp.models.fit import FitVerdict
from chatapp.ui.models.common import gb_text, one_line


class FitText(QObject):
    """Says a `FitVerdict` in the current language (the verdict's own `summary()` is the
    CLI's English)."""

    def verdict(self, verdict: FitVerdict, n_ctx: int) -> tuple[str, str]:
        """The verdict in a few words ("Partly on GPU (12 of 30 layers)"), and the memory
        needed against the memory free, one sentence a line."""
        text = {
            "gpu": self.tr("Fits on GPU"),
            "partial": self.tr("Partly on GPU ({n} of {m} layers)").format(
                n=verdict.gpu_layers, m=verdict.n_layer),
            "cpu": self.tr("Fits in RAM"),
            "too_big": self.tr("Too big"),
        }.get(verdict.kind, one_line(verdict.kind))
        need = verdict.need
        lines = [self.tr("Needs about {total} with a {n}-token context.").format(
            total=gb_text(need.total), n=f"{n_ctx:,}")]
        if need.gpu:
            lines.append(self.tr("{gpu} on the GPU, {host} in RAM.").format(
                gpu=gb_text(need.gpu), host=gb_text(need.host)))
        if verdict.vram_free is not None:
            lines.append(self.tr("Free now: {ram} of RAM, {vram} of GPU memory.").format(
                ram=gb_text(verdict.ram_free), vram=gb_text(verdict.vram_free)))
            lines.append(self.tr("{ram} of RAM and {vram} of GPU memory are kept free for "
                                 "everything else.").format(ram=gb_text(verdict.reserve_ram),
                                                            vram=gb_text(verdict.reserve_vram)))
        else:
            lines.append(self.tr("Free now: {ram} of RAM.").format(ram=gb_text(verdict.ram_free)))
            lines.append(self.tr("{ram} of RAM is kept free for everything else.").format(
                ram=gb_text(verdict.reserve_ram)))
        return text, "\n".join(lines)

    def too_big(self) -> str:
        """The words of the "too_big" verdict (to mark it)."""
        return self.tr("Too big")
