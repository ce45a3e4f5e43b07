"""The dashboard, served by the API at /ui (sources in ui/ at the repository root; the built
assets under static/ are committed, so serving it needs no Node)."""

from services.api.ui.router import router

__all__ = ["router"]
