"""Short explanations of what the inside panel shows, and the collapsible box they live in.

The texts take the values on screen (the temperature, the layer, the number of heads ...), so
an explanation talks about the picture beside it, not about transformers in general.  All of
them go through `tr` for translation.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget


class Explanations(QObject):
    """The panel's explanatory texts, translated (context "Explanations")."""

    # --- sampling ------------------------------------------------------------------------------

    def sampling(self, temperature: float, top_k: int, top_p: float, min_p: float) -> str:
        """Everything the sampling view shows, for the settings it shows."""
        return "\n\n".join([
            self.chain(), self.shading(), self.temperature(temperature), self.top_k(top_k),
            self.top_p(top_p), self.min_p(min_p), self.entropy(), self.formula(),
        ])

    def chain(self) -> str:
        """The sampler chain as a whole."""
        return self.tr(
            "Each token of the reply was drawn from a probability distribution over the "
            "whole vocabulary. The model gives every token a score (a logit z); softmax turns "
            "the scores into probabilities, and the sampler chain reshapes them step by step: "
            "penalties → top-k → top-p → min-p → temperature → draw. Each block of bars is one "
            "step for the selected token; a faded, struck-through bar is a candidate that step "
            "removed. The first block (raw) is softmax at T = 1, before any setting."
        )

    def shading(self) -> str:
        """The shading of the reply's tokens."""
        return self.tr(
            "Shading: the stronger a token's background, the less likely it was when it was "
            "drawn. A token without shade had p close to 1; a strongly shaded one was a "
            "surprising pick."
        )

    def temperature(self, value: float) -> str:
        """Temperature, with the value shown."""
        return self.tr(
            "Temperature (now {0}): the logits are divided by T before the softmax, "
            "p_i = exp(z_i / T) / Σ_j exp(z_j / T). Below 1 the distribution gets sharper (the "
            "favourite takes more), above 1 flatter; at T = 0 the most likely token is always "
            "taken."
        ).format(f"{value:.2f}")

    def top_k(self, value: int) -> str:
        """Top-k, with the value shown."""
        return self.tr(
            "Top-k (now {0}; 0 = off): only the k most likely candidates survive."
        ).format(value)

    def top_p(self, value: float) -> str:
        """Top-p, with the value shown."""
        return self.tr(
            "Top-p (now {0}; 1 = off): keeps the smallest set of most likely candidates whose "
            "probabilities add up to at least p. The bars show the sum it reached."
        ).format(f"{value:.2f}")

    def min_p(self, value: float) -> str:
        """Min-p, with the value shown."""
        return self.tr(
            "Min-p (now {0}; 0 = off): drops every candidate whose probability is below "
            "min-p × the probability of the most likely one. The bars show that threshold."
        ).format(f"{value:.2f}")

    def entropy(self) -> str:
        """Entropy in bits."""
        return self.tr(
            "Entropy H = −Σ p·log₂ p, in bits, measures how open a step is: 0 bits is one sure "
            "choice, 1 bit is a coin toss, n bits is as open as 2ⁿ equally likely tokens. "
            "\"≈\" marks an estimate made from the listed candidates only."
        )

    def formula(self) -> str:
        """The worked formula."""
        return self.tr(
            "The formula shows the selected token's own numbers: its logit z_i, the "
            "temperature T, and the sum over the candidates that survived the cuts. Moving a "
            "what-if slider replays the chain on the recorded candidates with the new setting."
        )

    # --- attention -----------------------------------------------------------------------------

    def attention(self, layer: int | None, head: int | None, n_tokens: int, n_layer: int,
                  n_head: int) -> str:
        """Everything the attention view shows, for the capture it shows."""
        return "\n\n".join([
            self.self_attention(n_tokens), self.causal_mask(),
            self.heads_and_layers(layer, head, n_layer, n_head), self.colour_scale(),
            self.query_text(),
        ])

    def self_attention(self, n_tokens: int) -> str:
        """softmax(QKᵀ/√d_k)V and what a row of the matrix is."""
        return self.tr(
            "Self-attention: every token makes a query q, a key k and a value v. "
            "Attention(Q, K, V) = softmax(QKᵀ / √d_k) V: the weights softmax(q·k / √d_k) say "
            "how much of each token's value the query token mixes into its own. This capture "
            "has {0} tokens, so the matrix is {0} × {0}: each row is one query token's weights "
            "over the tokens up to it (the columns), and each row sums to 1."
        ).format(n_tokens)

    def causal_mask(self) -> str:
        """Why the upper triangle is empty."""
        return self.tr(
            "The causal mask: while writing, a token can only look at itself and at tokens "
            "before it, never at later ones. Every weight above the diagonal is therefore "
            "zero: that is the hatched, empty upper triangle."
        )

    def heads_and_layers(self, layer: int | None, head: int | None, n_layer: int,
                         n_head: int) -> str:
        """Heads and layers, naming the ones shown."""
        if layer is None:
            where = self.tr("Nothing is shown yet.")
        elif head is None:
            where = self.tr("Shown: layer {0}, the mean over its heads.").format(layer)
        else:
            where = self.tr("Shown: layer {0}, head {1}.").format(layer, head)
        return self.tr(
            "Heads and layers: the model has {0} layers of {1} attention heads. The heads of a "
            "layer work side by side, each with its own pattern (one looks at the previous "
            "token, another at the start, another at matching words); the layers are stacked, "
            "each reading what the one below wrote. The thumbnails show every captured head "
            "of the chosen layer; click one to look at it. {2}"
        ).format(n_layer, n_head, where)

    def colour_scale(self) -> str:
        """The colour scale."""
        return self.tr(
            "Colours: dark is a weight near 0, bright the largest weight shown. Many heads put "
            "most of their weight on the very first token; the square-root scale keeps the "
            "smaller weights visible."
        )

    def query_text(self) -> str:
        """The shaded conversation below the heatmap."""
        return self.tr(
            "Click a row (or a token in the text) to pick a query token: the text is then "
            "shaded by how much that token attends to each token before it."
        )


class WhatIsThis(QWidget):
    """A collapsible "What am I looking at?" box with a plain-text explanation.

    Attributes:
        toggle: the button that opens and closes the box.
        body: the explanation (plain text, word-wrapped).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        """A closed box with no text."""
        super().__init__(parent)
        self.toggle = QToolButton(self)
        self.toggle.setCheckable(True)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._on_toggled)
        self.body = QLabel(self)
        self.body.setTextFormat(Qt.TextFormat.PlainText)
        self.body.setWordWrap(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.body.setContentsMargins(18, 0, 4, 4)
        self.body.hide()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.toggle)
        box.addWidget(self.body)
        self._retranslate()

    def set_text(self, text: str) -> None:
        """The explanation to show when open."""
        self.body.setText(text)

    def is_open(self) -> bool:
        """Whether the explanation is showing."""
        return self.toggle.isChecked()

    def set_open(self, on: bool) -> None:
        """Open or close the box."""
        self.toggle.setChecked(on)

    def _on_toggled(self, on: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.body.setVisible(on)

    def changeEvent(self, event: QEvent) -> None:
        """Retranslate on a language switch."""
        if event.type() == QEvent.Type.LanguageChange:
            self._retranslate()
        super().changeEvent(event)

    def _retranslate(self) -> None:
        self.toggle.setText(self.tr("What am I looking at?"))
