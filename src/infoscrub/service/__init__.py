"""The HTTP service (FastAPI): ``infoscrub.service.app.create_app``."""
