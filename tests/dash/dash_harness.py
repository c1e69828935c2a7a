"""A kevin Runtime on a temp SQLite file, the Dash app on it, and a helper to call a Dash callback over
HTTP exactly as the browser does (POST /_dash-update-component)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dash

from kevin_dash.app import PLOTLY_BUNDLE
from kevin_pipeline.runtime import Runtime, open_runtime
from kevin_pipeline.settings import load_settings

TOKEN = "correct-horse-battery-staple"


def make_kevin_runtime(tmp: Path, token: str | None = TOKEN, **overrides: Any) -> Runtime:
    settings = load_settings(state_dir=tmp, database_url=f"sqlite:///{tmp / 'kevin.db'}", dash_token=token, **overrides)
    return open_runtime(settings)


@dataclass
class DashHarness:
    kapp: Runtime
    dash_app: dash.Dash

    def __post_init__(self) -> None:
        self.client = self.dash_app.server.test_client()
        self.client.get("/_dash-layout")  # the first request registers the pages router callback

    def callback_key(self, inputs: list[str], output: str | None = None) -> str:
        """The callback_map key of the one callback with exactly these inputs ('component-id.prop')
        whose outputs mention `output`, if given."""
        keys = [
            k for k, v in self.dash_app.callback_map.items()
            if [f"{i['id']}.{i['property']}" for i in v["inputs"]] == inputs and (output is None or output in k)
        ]
        assert len(keys) == 1, f"{inputs} / {output}: {keys}"
        return keys[0]

    def call(
        self, inputs: dict[str, Any], state: dict[str, Any] | None = None, output: str | None = None, changed: str | None = None
    ) -> dict[str, Any]:
        """POST one callback as the renderer does. `inputs`/`state` map 'component-id.prop' to values;
        the input that changed is `changed`, by default the first. Returns the JSON response ({} for
        204 no update)."""
        key = self.callback_key(list(inputs), output)

        def deps(values: dict[str, Any]) -> list[dict[str, Any]]:
            return [{"id": d.rsplit(".", 1)[0], "property": d.rsplit(".", 1)[1], "value": v} for d, v in values.items()]

        multi = key.startswith("..")
        parts = key.strip(".").split("...") if multi else [key]
        outputs = [{"id": p.rsplit(".", 1)[0], "property": p.rsplit(".", 1)[1]} for p in parts]
        body = {
            "output": key,
            "outputs": outputs if multi else outputs[0],
            "inputs": deps(inputs),
            "state": deps(state or {}),
            "changedPropIds": [changed or next(iter(inputs))],
        }
        resp = self.client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
        assert resp.status_code in (200, 204), resp.data[:500]
        return json.loads(resp.data) if resp.status_code == 200 else {}

    def close(self) -> None:
        self.dash_app.server.extensions["kevin_dash"].jobs.shutdown()
        self.kapp.close()


def text_of(response: dict[str, Any]) -> str:
    return json.dumps(response)


def bundle_header() -> str:
    """The vendored plotly.js bundle's opening comment (name, version, licence)."""
    text = PLOTLY_BUNDLE.read_text(encoding="utf-8")
    return text[: text.index("*/") + 2]


def bundle_version() -> str:
    """The plotly.js version the vendored bundle's header names ('... v4.1.1' -> '4.1.1')."""
    found = re.search(r"plotly\.js \(cartesian - minified\) v(\d+\.\d+\.\d+)", bundle_header())
    assert found, bundle_header()
    return found.group(1)
