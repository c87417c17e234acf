"""Typed records: one JSON encoding for every result, spec and message, checked field by field on arrival.

A record is a dataclass that mixes in ``Record``. ``to_dict`` writes what ``dataclasses.asdict``
would (enum members as their words, nested records as objects); ``from_dict`` rebuilds the record
from its annotations and raises ``RecordError`` naming the first field that does not fit, so a
file, a pipe or a socket never hands the core a dict of unknown shape. A field whose JSON key
differs from its Python name says so in its metadata: ``field(metadata={"json": "target"})``.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import types
import typing
from functools import cache
from typing import Any, TypeVar, Union, cast, get_args, get_origin

from netprobe.errors import RecordError

R = TypeVar("R", bound="Record")
# Control characters but tab and newline: escaped on arrival (ESC would start an ANSI sequence).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class Record:
    """A dataclass mixin: ``to_dict``/``from_dict`` and ``to_json``/``from_json``, one encoding for all."""

    def to_dict(self) -> dict[str, Any]:
        """This record as JSON-ready data: nested records as objects, words as strings."""
        return {_key(f): _encode(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def to_json(self) -> str:
        """This record as one line of JSON (no NaN or infinity: they are not JSON)."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_dict(cls: type[R], data: Any, where: str = "") -> R:
        """Rebuild a record from JSON data; RecordError names the first field that does not fit."""
        if not isinstance(data, dict):
            raise RecordError(f"{where or cls.__name__}: expected an object, got {_kind(data)}")
        hints = _hints(cast(type, cls))
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            key = _key(f)
            here = f"{where}.{key}" if where else key
            if key in data:
                values[f.name] = decode(hints[f.name], data[key], here)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{here}: missing")
        return cls(**values)

    @classmethod
    def from_json(cls: type[R], text: str, where: str = "") -> R:
        """Parse one JSON document into this record."""
        try:
            data = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise RecordError(f"{where or cls.__name__}: not JSON ({exc})") from None
        return cls.from_dict(data, where)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _key(f: dataclasses.Field[Any]) -> str:
    return str(f.metadata.get("json", f.name))


def _encode(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    encode = getattr(value, "record_encode", None)
    if encode is not None:  # a registration travels as its name
        return encode()
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def decode(tp: Any, value: Any, where: str) -> Any:
    """``value`` as type ``tp`` (an annotation), or RecordError saying where and why not."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Union or origin is types.UnionType:
        args = get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise RecordError(f"{where}: missing a value")
        problems = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return decode(arg, value, where)
            except RecordError as exc:
                problems.append(str(exc))
        raise RecordError(problems[0] if len(problems) == 1 else f"{where}: {_kind(value)} fits none of {tp}")
    if origin is list:
        (item,) = get_args(tp) or (Any,)
        if not isinstance(value, list):
            raise RecordError(f"{where}: expected a list, got {_kind(value)}")
        return [decode(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        args = get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise RecordError(f"{where}: expected a list, got {_kind(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v, f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise RecordError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(decode(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        _, item = get_args(tp) or (str, Any)
        if not isinstance(value, dict):
            raise RecordError(f"{where}: expected an object, got {_kind(value)}")
        return {str(k): decode(item, v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(tp, type):
        return _scalar(tp, value, where)
    raise RecordError(f"{where}: cannot check a value against {tp}")


def _scalar(tp: type, value: Any, where: str) -> Any:
    if issubclass(tp, Record):
        return tp.from_dict(value, where)
    decode_hook = getattr(tp, "record_decode", None)
    if decode_hook is not None:
        return decode_hook(value, where)
    if issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            words = ", ".join(str(m.value) for m in tp)
            raise RecordError(f"{where}: {value!r} is not one of {words}") from None
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise RecordError(f"{where}: {value} is not a finite number")
            return value  # an int stays one, so a document read and written again is unchanged
    elif tp is str:
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise RecordError(f"{where}: not valid text (a lone surrogate)") from None
            # A terminal must not take a control sequence from a document or a message for its own.
            return _CONTROL.sub(lambda m: repr(m.group())[1:-1], value)
    else:
        raise RecordError(f"{where}: cannot check a value against {tp.__name__}")
    raise RecordError(f"{where}: expected {tp.__name__}, got {_kind(value)}")
