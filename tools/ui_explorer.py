"""make ui-test's check of the sampling explorer (notebook 03): its sliders render, move the plot, refuse bad values."""

from __future__ import annotations

import io
from pathlib import Path

from ui_findings import NotebookResult, locate


def image_difference(png_a: bytes, png_b: bytes) -> float:
    """Share of pixels that differ between two screenshots (1.0 when their sizes differ)."""
    from PIL import Image, ImageChops

    a, b = (Image.open(io.BytesIO(p)).convert("RGB") for p in (png_a, png_b))
    if a.size != b.size:
        return 1.0
    diff = ImageChops.difference(a, b).convert("L").point(lambda v: 255 if v > 16 else 0)
    return diff.histogram()[255] / (a.size[0] * a.size[1])


def check_explorer(page, index: int, cell: dict, result: NotebookResult, shots: Path) -> None:
    """The explorer in cell ``index``: three sliders, a redraw when one is dragged, out-of-range values refused."""
    where = locate(result, cell)
    output = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".jp-Cell-outputWrapper")
    sliders = output.locator(".widget-slider")
    try:
        sliders.first.wait_for(state="visible", timeout=30_000)
    except Exception:
        result.problems.append(f"{where}: the explorer's sliders did not render")
        return
    labels = [sliders.nth(i).locator(".widget-label").inner_text().strip() for i in range(sliders.count())]
    expected = ["temperature", "top_k (0=off)", "top_p"]
    if labels != expected:
        result.problems.append(f"{where}: the explorer shows sliders {labels}, expected {expected}")
        return
    if not _drag_redraws(page, output, sliders, index, where, result, shots):
        return
    _typed_values_refused(page, sliders, where, result)
    page.wait_for_timeout(500)
    output.screenshot(path=shots / f"cell{index:02d}_explorer_final.png")
    result.screenshots.append(shots / f"cell{index:02d}_explorer_final.png")


def _drag_redraws(page, output, sliders, index: int, where: str, result: NotebookResult, shots: Path) -> bool:
    """Drag the temperature slider part way, as with a mouse: the plot must change; False if the check stops here."""
    image = output.locator(".widget-image").first
    temperature = sliders.nth(0)
    readout = temperature.locator(".widget-readout")
    before_value, before_src = readout.inner_text().strip(), image.get_attribute("src")
    before_png = image.screenshot(path=shots / f"cell{index:02d}_explorer_before.png")
    _drag_right(page, temperature)
    moved_value = readout.inner_text().strip()
    if moved_value == before_value:
        result.problems.append(f"{where}: dragging the temperature slider did not move it ({before_value})")
        return False
    try:
        page.wait_for_function(
            "([img, src]) => img.getAttribute('src') !== src && img.complete",
            arg=[image.element_handle(), before_src],
            timeout=30_000,
        )
        page.wait_for_timeout(300)
    except Exception:
        result.problems.append(
            f"{where}: moving the temperature slider from {before_value} to {moved_value} "
            "did not redraw the plot within 30 s (is the explorer's callback broken?)"
        )
        return False
    after_png = image.screenshot(path=shots / f"cell{index:02d}_explorer_after.png")
    result.screenshots += [
        shots / f"cell{index:02d}_explorer_before.png",
        shots / f"cell{index:02d}_explorer_after.png",
    ]
    changed = image_difference(before_png, after_png)
    if changed < 0.002:
        result.problems.append(
            f"{where}: moving the temperature slider from {before_value} to {moved_value} "
            f"left the plotted distribution unchanged ({changed:.2%} of pixels differ)"
        )
    else:
        result.notes.append(
            f"{where}: temperature {before_value} -> {moved_value} changed {changed:.1%} of the plot's pixels"
        )
    return True


def _drag_right(page, slider) -> None:
    """Drag the slider's handle to the right, as with a mouse."""
    handle = slider.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    track = slider.locator(".noUi-target").bounding_box() or {"width": 300}
    page.mouse.move(x + max(15, track["width"] * 0.15), y, steps=8)  # part way, not to the end
    page.mouse.up()


def _typed_values_refused(page, sliders, where: str, result: NotebookResult) -> None:
    """Values typed outside a slider's range are refused: the slider stays within its range."""
    for slider, typed, low, high in (
        (sliders.nth(0), "1000", 10**-1.3, 10**0.7),
        (sliders.nth(1), "-5", 0, 50),
        (sliders.nth(2), "1.5", 0.01, 1.0),
    ):
        box_ = slider.locator(".widget-readout")
        name = slider.locator(".widget-label").inner_text().strip()
        box_.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(typed)
        page.keyboard.press("Enter")
        page.wait_for_timeout(500)
        shown = box_.inner_text().strip()
        try:
            value = float(shown)
        except ValueError:
            value = float("nan")
        if not (low - 1e-6 <= value <= high + 1e-6):
            result.problems.append(
                f"{where}: typing {typed} into the {name} slider was accepted "
                f"(it shows {shown!r}; its range is {low:g} to {high:g})"
            )
