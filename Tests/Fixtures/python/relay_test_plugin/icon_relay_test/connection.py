import insightconnect_plugin_runtime
from insightconnect_plugin_runtime.exceptions import ConnectionTestException

from .schema import connection_input


class Connection(insightconnect_plugin_runtime.Connection):
    def __init__(self):
        super().__init__(input=connection_input())
        self.api_key = None
        self.base_url = None

    def connect(self, params={}):
        self.logger.info("Connect: connecting")
        self.api_key = params.get("api_key", {}).get("secretKey")
        self.base_url = params.get("base_url")

    def test(self):
        self._check()
        return {"success": True}

    def test_task(self):
        """The connection test of tasks (POST /api/v1/connection/test_task and /api/v1/tasks/NAME/test)."""
        self._check()
        return {"success": True}, "The connection test for tasks succeeded."

    def _check(self):
        if self.base_url == "bad":
            raise ConnectionTestException(
                cause="The base URL is bad.",
                assistance="Use another base URL.",
                data=self.base_url,
            )
