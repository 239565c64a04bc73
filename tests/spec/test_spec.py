from __future__ import annotations

import json

import pytest

from kiln.errors import ParameterError, SpecError
from kiln.spec import PipelineSpec, spec_from_dict, spec_from_json
from kiln.spec.params import parse_assignments, resolve


def minimal(**over):
    d = {"schema_version": 1, "name": "p", "parameters": [{"name": "n", "type": "int",
                                                           "default": 1}],
         "steps": [
             {"name": "a", "kind": "cells", "cells": [{"source": "x = n"}], "outputs": ["x"],
              "inputs": [{"name": "n", "param": "n"}]},
             {"name": "b", "kind": "cells", "cells": [{"source": "print(x)"}],
              "inputs": [{"name": "x", "step": "a", "output": "x"}]},
         ]}
    d.update(over)
    return d


def test_spec_round_trips_through_json():
    spec = spec_from_dict(minimal())
    again = PipelineSpec.from_json(spec.to_json())
    assert again == spec and again.digest() == spec.digest()


def test_invalid_json_and_wrong_fields_name_the_place():
    with pytest.raises(SpecError, match="not valid JSON") as e:
        spec_from_json('{"name": ', origin="s.json")
    assert "s.json: line 1" in e.value.where
    with pytest.raises(SpecError, match="expected str") as e:
        spec_from_dict(minimal(name=5))
    assert e.value.where == "spec: $.name"
    d = minimal()
    del d["steps"][1]["kind"]
    with pytest.raises(SpecError, match="required field") as e:
        spec_from_dict(d)
    assert e.value.where == "spec: $.steps[1].kind"


def test_newer_schema_versions_are_refused():
    with pytest.raises(SpecError, match="schema version 9"):
        spec_from_dict(minimal(schema_version=9))


def test_graph_errors():
    d = minimal()
    d["steps"][0]["after"] = ["b"]
    with pytest.raises(SpecError, match="cycle"):
        spec_from_dict(d)
    d = minimal()
    d["steps"][1]["inputs"][0]["output"] = "zzz"
    with pytest.raises(SpecError, match="does not produce"):
        spec_from_dict(d)
    d = minimal()
    d["steps"][1]["name"] = "a"
    with pytest.raises(SpecError, match="duplicate step name"):
        spec_from_dict(d)
    with pytest.raises(SpecError, match="has no steps"):
        spec_from_dict(minimal(steps=[]))


def test_parameters_are_converted_to_their_declared_types():
    spec = spec_from_dict(minimal(parameters=[
        {"name": "n", "type": "int", "default": 1}, {"name": "f", "type": "float", "default": 0.5},
        {"name": "b", "type": "bool", "default": False}, {"name": "l", "type": "list", "default": []},
        {"name": "d", "type": "dict", "default": {}}, {"name": "s", "type": "str", "default": ""}]))
    values = resolve(spec, parse_assignments(["n=3", "f=2", "b=yes", "l=[1, 2]", 'd={"k": 1}',
                                              "s=a=b"]))
    assert values == {"n": 3, "f": 2.0, "b": True, "l": [1, 2], "d": {"k": 1}, "s": "a=b"}
    for bad in (["n=x"], ["f=fast"], ["b=maybe"], ["l={}"], ["d=[1]"]):
        with pytest.raises(ParameterError):
            resolve(spec, parse_assignments(bad))
    with pytest.raises(ParameterError, match="not NAME=VALUE"):
        parse_assignments(["oops"])
    with pytest.raises(ParameterError, match="unknown parameter 'zz'"):
        resolve(spec, {"zz": 1})


def test_compiled_spec_json_is_stable(tmp_path):
    text = spec_from_dict(minimal()).to_json()
    assert json.loads(text)["schema_version"] == 1
