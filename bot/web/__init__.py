"""The web view: server-rendered pages (aiohttp-jinja2) for incidents, their delivery grid and
timeline, people's reachability and the delivery log, signed in by one-time link.
``app.py`` builds a ``WebConfig`` and calls ``add_routes``."""
from __future__ import annotations

from aiohttp import web

from bot.app_keys import WEB_KEY
from bot.web import live, pages, render, signin
from bot.web.config import WebConfig

__all__ = ["WebConfig", "add_routes"]


def add_routes(app: web.Application, config: WebConfig) -> None:
    app[WEB_KEY] = config
    render.setup(app)
    app.router.add_get("/signin", signin.signin_form)
    app.router.add_post("/signin", signin.signin_request)
    app.router.add_get("/signin/{token}", signin.confirm)
    app.router.add_post("/signin/{token}", signin.sign_in)
    app.router.add_post("/signout", signin.sign_out)
    app.router.add_get("/", pages.incidents)
    app.router.add_get(r"/incidents/{number}", pages.incident)
    app.router.add_post(r"/incidents/{number}/{action:acknowledge|resolve}", pages.act)
    app.router.add_get(r"/incidents/{number}/live", live.incident_changes)
    app.router.add_get("/oncall", pages.oncall)
    app.router.add_post("/oncall/take", pages.take_shift)
    app.router.add_get("/people", pages.people)
    app.router.add_post("/people/test", pages.test_page)
    app.router.add_get("/me", pages.own_page)
    app.router.add_post("/me/test", pages.own_test_page)
    app.router.add_post("/me/push", pages.keep_push_subscription)
    app.router.add_get("/log", pages.delivery_log)
    app.router.add_static("/web/static", render.STATIC)
