import time

import insightconnect_plugin_runtime
from insightconnect_plugin_runtime.exceptions import PluginException

from .schema import step_schemas


class Echo(insightconnect_plugin_runtime.Action):
    def __init__(self):
        super().__init__(name="echo", description="Return the input message", **step_schemas("actions", "echo"))

    def run(self, params={}):
        self.logger.info("Echo: echoing")
        if params.get("break_output"):
            return {"message": 42}
        return {"message": params.get("message")}


class Fail(insightconnect_plugin_runtime.Action):
    def __init__(self):
        super().__init__(
            name="fail",
            description="Raise a PluginException with the given cause, assistance and data",
            **step_schemas("actions", "fail"),
        )

    def run(self, params={}):
        self.logger.info("Fail: failing")
        if params.get("preset"):
            raise PluginException(preset=params["preset"], data=params.get("data"))
        raise PluginException(
            cause=params.get("cause", "The relay test plugin was asked to fail."),
            assistance=params.get("assistance", "Do not ask it to fail."),
            data=params.get("data"),
        )


class Crash(insightconnect_plugin_runtime.Action):
    def __init__(self):
        super().__init__(name="crash", description="Raise a plain Python exception", **step_schemas("actions", "crash"))

    def run(self, params={}):
        self.logger.info("Crash: crashing")
        raise Exception(params.get("message", "boom"))


class Sleep(insightconnect_plugin_runtime.Action):
    def __init__(self):
        super().__init__(
            name="sleep",
            description="Sleep for the given number of seconds, then return",
            **step_schemas("actions", "sleep"),
        )

    def run(self, params={}):
        seconds = params.get("seconds")
        self.logger.info(f"Sleep: sleeping {seconds}s")
        time.sleep(seconds)
        return {"slept": seconds}


class Leak(insightconnect_plugin_runtime.Action):
    def __init__(self):
        super().__init__(
            name="leak",
            description="Return and log the connection's secret key, to test output masking",
            **step_schemas("actions", "leak"),
        )

    def run(self, params={}):
        secret = self.connection.api_key
        self.logger.info(f"Leak: the key is {secret}")
        return {"secret": secret, "text": f"The key is {secret}.", "base_url": self.connection.base_url}


class Tick(insightconnect_plugin_runtime.Trigger):
    def __init__(self):
        super().__init__(
            name="tick",
            description="Send an event every interval seconds, count times (forever when count is 0), then return",
            **step_schemas("triggers", "tick"),
        )

    def run(self, params={}):
        interval = params.get("interval", 1)
        count = params.get("count", 3)
        n = 0
        while count == 0 or n < count:
            n += 1
            self.logger.info(f"Tick: sending event {n}")
            self.send({"n": n, "message": f"tick {n}"})
            if count == 0 or n < count:
                time.sleep(interval)
        return {"n": n, "message": "done"}


class MonitorPages(insightconnect_plugin_runtime.Task):
    def __init__(self):
        super().__init__(
            name="monitor_pages",
            description="Return one page of events per run, with the page number kept in the state",
            **step_schemas("tasks", "monitor_pages"),
        )

    def run(self, params={}, state={}, custom_config={}):
        pages = params.get("pages", 3)
        page = state.get("page", 0) + 1
        self.logger.info(f"MonitorPages: page {page} of {pages}")
        events = [{"page": page, "custom_config": custom_config}]
        return events, {"page": page}, page < pages, 200, None
