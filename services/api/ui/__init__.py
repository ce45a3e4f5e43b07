"""The dashboard, served by the API at /ui (sources in ui/ at the repository root; the built
assets under static/ are committed, so serving it needs no Node), and Swagger UI at /docs."""

from fastapi import APIRouter

from services.api.ui.docs import router as docs_router
from services.api.ui.router import router as dashboard_router

#: Both pages, so the app includes one router for what it serves from static/.
router = APIRouter()
router.include_router(dashboard_router)
router.include_router(docs_router)

__all__ = ["router"]
