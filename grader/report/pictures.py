"""Pictures for people: the ps5 confusion matrix that a student's feedback shows.

Drawn on a ``matplotlib.figure.Figure`` (no pyplot, no global backend state), so that
drawing from the threads of a parallel batch is safe.
"""

from __future__ import annotations

import io


def confusion_png(confusion: list[list[int]], title: str) -> bytes:
    """A confusion matrix (rows: true digits, columns: predictions) as PNG bytes.

    Cells are shaded by the share of their row and labelled with counts, except the
    diagonal where a digit is read (almost) always right.

    >>> confusion_png([[5 if i == j else 0 for j in range(10)] for i in range(10)], "x")[:4]
    b'\\x89PNG'
    """
    import numpy as np
    from matplotlib.figure import Figure

    counts = np.asarray(confusion, dtype=float)
    rates = counts / np.clip(counts.sum(axis=1, keepdims=True), 1, None)
    fig = Figure(figsize=(4.6, 4.0), dpi=110, layout="tight")
    ax = fig.subplots()
    image = ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j] and (i != j or rates[i, j] < 0.995):
                ax.text(j, i, int(counts[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if rates[i, j] > 0.6 else "black")
    ax.set_xticks(range(counts.shape[1]))
    ax.set_yticks(range(counts.shape[0]))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, fraction=0.046)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
