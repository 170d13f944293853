"""The application factory's own checks. ``App.ensure_sync`` hands functions back unchecked (a
request's eleven ``iscoroutinefunction`` calls, measured, saved), so the factory refuses an app
with an async view or hook, which that shortcut would leave unawaited."""

from __future__ import annotations

import pytest
from flask import Flask

from coordination.api.app import App


def test_the_app_has_no_async_view_or_hook(app: Flask) -> None:
    assert isinstance(app, App)
    app.refuse_coroutines()  # what create_app did; nothing async among the views and hooks


@pytest.mark.parametrize("where", ["view", "method view", "hook", "error handler"])
def test_an_async_view_or_hook_is_refused(app: Flask, where: str) -> None:
    assert isinstance(app, App)

    async def late() -> str:
        return "never awaited"

    if where == "view":
        app.add_url_rule("/late", view_func=late)
    elif where == "method view":
        from flask.views import MethodView

        class Late(MethodView):
            async def get(self) -> str:
                return "never awaited"

        app.add_url_rule("/late", view_func=Late.as_view("late"))
    elif where == "hook":
        app.before_request_funcs.setdefault(None, []).append(late)
    else:
        app.register_error_handler(418, late)
    with pytest.raises(TypeError, match="async views or hooks"):
        app.refuse_coroutines()
