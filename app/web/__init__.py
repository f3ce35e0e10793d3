"""Server-rendered dashboard pages (routers). What they share with the API's HTML answers
(templates, words, field errors, forms) lives in app.html."""

from __future__ import annotations

from app.html import render, templates

__all__ = ["render", "templates"]
