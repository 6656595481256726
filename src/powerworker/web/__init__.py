"""The dashboard: a separate web process showing the queue, the dead set, the schedule, breakers and metrics.

Sign-in goes through the Powernode platform (`WebAuthApiClient`): a platform token or e-mail and password;
every page re-checks the session with the platform. `create_app(deps)` builds the application;
`powerworker web` runs it.
"""

from powerworker.web.app import create_app
from powerworker.web.config import DashboardConfig
from powerworker.web.server import build_app, open_deps, serve
from powerworker.web.state import Deps

__all__ = ["DashboardConfig", "Deps", "build_app", "create_app", "open_deps", "serve"]
