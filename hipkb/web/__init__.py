"""The browser face of hipkb: a FastAPI app (:mod:`hipkb.web.app`) serving a case page,
teaching mode and a JSON API, with every asset in ``static/`` (no CDN, no build step).
"""
