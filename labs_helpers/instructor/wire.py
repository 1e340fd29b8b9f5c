"""Values across the boundary between the grader and a submission's kernel: plain JSON, never pickle.

The grader calls a learner's function inside the sandboxed kernel with the checker's inputs and gets
back only data: numbers, strings, lists, dicts, tensors and arrays (as nested lists with a dtype),
and the name and message of an exception. Nothing the kernel sends back is executed or unpickled,
so the worst a submission can do through this channel is report a wrong answer. A model or a
tokenizer cannot cross: the grader names it instead (``{"$ref": "model"}``) and the kernel passes
its own variable of that name.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

MAX_REPLY_BYTES = 8_000_000  # a learner's answer here is a few tensors; more is refused, not parsed
_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool")


class Opaque:
    """A value the wire cannot carry (its type and a short repr), so a checker can say what came back."""

    def __init__(self, type_name: str, text: str) -> None:
        self.type_name, self.text = type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name}: {self.text}>"


class RemoteError(Exception):
    """An exception the learner's code raised in the kernel whose type is not a Python builtin."""


def _array(kind: str, dtype: str, value: Any) -> dict:
    """A tensor or array as JSON: its kind, dtype, shape and nested values (inf and nan kept)."""
    return {"$array": kind, "dtype": dtype, "shape": list(value.shape), "values": value.tolist()}


def encode(value: Any, refs: Mapping[int, str] | None = None) -> Any:
    """``value`` as JSON-ready data; objects named in ``refs`` (by id) travel as references."""
    if refs and id(value) in refs:
        return {"$ref": refs[id(value)]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        items = [encode(item, refs) for item in value]
        return items if isinstance(value, list) else {"$tuple": items}
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return {"$dict": {key: encode(item, refs) for key, item in value.items()}}
    module = type(value).__module__.split(".")[0]
    if module == "torch" and hasattr(value, "detach"):
        dtype = str(value.dtype).removeprefix("torch.")
        tensor = value.detach().cpu()
        return _array("tensor", dtype, tensor.float() if dtype == "bfloat16" else tensor)
    if module == "numpy" and hasattr(value, "dtype"):
        if not hasattr(value, "shape") or value.shape == ():
            return value.item()
        return _array("ndarray", str(value.dtype), value)
    return {"$opaque": type(value).__name__, "text": repr(value)[:80]}


def decode(data: Any) -> Any:
    """The value that ``encode`` described (tensors as torch tensors, arrays as numpy arrays)."""
    if isinstance(data, list):
        return [decode(item) for item in data]
    if not isinstance(data, dict):
        return data
    if "$tuple" in data:
        return tuple(decode(item) for item in data["$tuple"])
    if "$dict" in data:
        return {str(key): decode(item) for key, item in data["$dict"].items()}
    if "$array" in data:
        return _decode_array(data)
    if "$opaque" in data:
        return Opaque(str(data["$opaque"]), str(data.get("text", "")))
    raise ValueError(f"unexpected object on the wire: keys {sorted(data)[:4]}")


def _decode_array(data: dict) -> Any:
    """A tensor or array from its JSON form; an unknown dtype or a shape that does not fit is refused."""
    import numpy as np

    dtype = data.get("dtype")
    if dtype not in _DTYPES:
        raise ValueError(f"unexpected dtype on the wire: {dtype!r}")
    shape = [int(n) for n in data.get("shape", [])]
    array = np.array(data["values"], dtype="float32" if dtype == "bfloat16" else dtype)
    if list(array.shape) != shape:
        raise ValueError(f"values of shape {list(array.shape)} sent as {shape}")
    if data["$array"] != "tensor":
        return array
    import torch

    tensor = torch.from_numpy(array)
    return tensor.to(torch.bfloat16) if dtype == "bfloat16" else tensor


def dumps(data: Any) -> str:
    """JSON text for the wire (inf and nan allowed, as Python's json writes them)."""
    return json.dumps(data, allow_nan=True)


def loads(text: str) -> Any:
    """Parse a reply, refusing one over ``MAX_REPLY_BYTES`` before reading it."""
    if len(text) > MAX_REPLY_BYTES:
        raise ValueError(f"the reply is {len(text) / 1e6:.0f} MB, over the {MAX_REPLY_BYTES / 1e6:.0f} MB limit")
    return json.loads(text)  # Infinity and NaN read as Python's floats


def answer_call(namespace: dict, name: str, payload: str) -> str:
    """Kernel side: call ``namespace[name]`` with the encoded arguments; the result or exception, encoded."""
    try:
        request = json.loads(payload)
        args = [_resolve(arg, namespace) for arg in request["args"]]
        if name not in namespace:
            raise NameError(f"name {name!r} is not defined")
        target = namespace[name]
        result = target(*args) if request.get("call", True) else target
        after = [None if _is_ref(raw) else encode(arg) for raw, arg in zip(request["args"], args)]
        return dumps({"ok": encode(result), "after": after})
    except BaseException as error:  # the learner's code: report what it raised, whatever it was
        return dumps({"raised": type(error).__name__, "builtin": _is_builtin(error), "message": str(error)[:2000]})


def _is_ref(arg: Any) -> bool:
    return isinstance(arg, dict) and set(arg) == {"$ref"}


def _resolve(arg: Any, namespace: dict) -> Any:
    """Kernel side: an argument as the learner's function receives it (references looked up by name)."""
    return namespace[arg["$ref"]] if _is_ref(arg) else decode(arg)


def write_back(original: Any, after: Any) -> None:
    """Grader side: what the learner's function did to an argument in place, done to the grader's own copy."""
    if after is None or type(after) is not type(original):
        return
    if hasattr(original, "copy_") and getattr(original, "shape", None) == getattr(after, "shape", ()):
        original.copy_(after.to(original.dtype))
    elif hasattr(original, "dtype") and getattr(original, "shape", None) == getattr(after, "shape", ()):
        original[...] = after
    elif isinstance(original, list):
        original[:] = after
    elif isinstance(original, dict):
        original.clear()
        original.update(after)


def _is_builtin(error: BaseException) -> bool:
    """Whether the exception's type is one of Python's own (so the grader may raise the same type)."""
    import builtins

    return getattr(builtins, type(error).__name__, None) is type(error)
