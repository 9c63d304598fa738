"""`GET /v1/models/{name}[/versions/{v}]/card`: the model card of a served version.

JSON by default; Markdown with `?format=markdown` or `Accept: text/markdown`. A composite's
card is its models' cards. Each says whether the model was validated under the decision
policy's rules that serve now.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from contract.card import RULES_DIGEST, card_markdown, model_card
from service.dataplane import Dataplane
from service.errors import InvalidInput
from service.http.json_io import json_response

MARKDOWN = "text/markdown"
FORMATS = ("json", "markdown")


def create_blueprint(dataplane: Dataplane) -> Blueprint:
    """Return the model card routes (authenticated like metadata)."""
    bp = Blueprint("cards", __name__, url_prefix="/v1/models")

    @bp.get("/<model:name>/card")
    @bp.get("/<model:name>/versions/<int:version>/card")
    def card(name: str, version: int | None = None) -> Response:
        """The card of each model version behind the name, from its artifact."""
        wanted = _format()
        servable = dataplane.servable(name, version)
        policy = servable.policy or dataplane.serving_policy()
        serving = None
        if policy is not None:
            serving = {
                "name": policy.name,
                "version": policy.version,
                RULES_DIGEST: policy.rules_digest,
            }
        cards = [model_card(model.metadata, serving) for model in servable.models]
        if wanted == "markdown":
            described = zip(cards, servable.models, strict=True)
            text = "\n\n".join(card_markdown(c, m.metadata.features) for c, m in described)
            return Response(text, mimetype=MARKDOWN, content_type=f"{MARKDOWN}; charset=utf-8")
        body: dict[str, Any] = cards[0] if len(cards) == 1 else {"name": name, "models": cards}
        return json_response(body)

    return bp


def _format() -> str:
    """The asked format: the query parameter, else the Accept header's preference."""
    asked = request.args.get("format")
    if asked is not None:
        if asked not in FORMATS:
            raise InvalidInput(
                f"Unknown card format {asked!r}",
                {"format": [f"Must be one of: {', '.join(FORMATS)}."]},
            )
        return asked
    best = request.accept_mimetypes.best_match(["application/json", MARKDOWN])
    return "markdown" if best == MARKDOWN else "json"
