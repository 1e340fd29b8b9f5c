"""Is the Hugging Face Hub there, and is a model already cached? Answered in seconds."""

from __future__ import annotations

import os
import threading
import urllib.request


def hub_endpoint() -> str:
    """The Hub address the Hugging Face libraries use (``HF_ENDPOINT`` or huggingface.co)."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def hub_reachable(timeout: float = 3.0) -> bool:
    """True when the Hub answers an HTTP request within ``timeout`` seconds (DNS included)."""
    if os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes"):
        return False
    answer: list[bool] = []

    def probe() -> None:
        try:
            request = urllib.request.Request(f"{hub_endpoint()}/api/models/google/flan-t5-base", method="HEAD")
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer.append(response.status < 500)
        except Exception:  # any failure means: not reachable now
            answer.append(False)

    # A thread bounds the whole probe, name resolution included, which urllib's timeout does not.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answer and answer[0])


def is_local_folder(model: str) -> bool:
    """True when ``model`` is a folder on this machine (not a Hub id, not the Hub's cache)."""
    return os.path.isdir(os.path.expanduser(model))


def model_in_cache(model: str) -> bool:
    """True when ``model``'s config is in the Hugging Face cache (a local folder is not the cache)."""
    if is_local_folder(model):
        return False
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(model, "config.json"), str)
    except Exception:  # an invalid id is simply not cached
        return False
