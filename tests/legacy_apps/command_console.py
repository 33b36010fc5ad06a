"""An operator's console that runs known commands and streams their output over a WebSocket,
as Tornado 5-6 admin tools do: ``tornado.process.Subprocess`` with ``STREAM`` pipes read line
by line, ``gen.coroutine`` jobs started with ``spawn_callback``, a ``locks.Semaphore`` of job
slots, a ``queues.Queue`` drained by a history keeper, ``run_on_executor``, a secure-cookie
login with ``@authenticated``, ``HTTPServer(app, xheaders=True)``, ``PeriodicCallback`` and a
SIGTERM handler that stops through ``add_callback_from_signal``."""

import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import tornado.escape
import tornado.gen
import tornado.httpserver
import tornado.ioloop
import tornado.locks
import tornado.log
import tornado.netutil
import tornado.options
import tornado.process
import tornado.queues
import tornado.web
import tornado.websocket
from tornado.concurrent import run_on_executor
from tornado.iostream import StreamClosedError
from tornado.log import app_log
from tornado.options import define, options

define("port", default=0, type=int, help="port to listen on (0: any)")
define("slots", default=1, type=int, help="jobs running at once")

PYTHON = [sys.executable, "-u", "-c"]
COMMANDS = {
    "count": [*PYTHON, "import sys\nfor i in range(int(sys.argv[1])): print('line', i + 1)"],
    "upper": [*PYTHON, "import sys\nfor line in sys.stdin: print(line.strip().upper())"],
    "fail": [*PYTHON, "import sys\nprint('oops')\nsys.exit(3)"],
}


class BaseHandler(tornado.web.RequestHandler):
    def get_current_user(self):
        operator = self.get_secure_cookie("operator")
        return operator.decode() if operator else None


class LoginHandler(BaseHandler):
    def get(self):
        self.write("who are you? (next: %s)" % self.get_argument("next", "/"))

    def post(self):
        name = self.get_argument("name")
        self.set_secure_cookie("operator", name)
        self.write({"operator": name})


class StatusHandler(BaseHandler):
    executor = ThreadPoolExecutor(2)

    @tornado.web.authenticated
    @tornado.gen.coroutine
    def get(self):
        checksum = yield self.checksum(self.current_user)
        self.write(
            {
                "operator": self.current_user,
                "remote_ip": self.request.remote_ip,
                "scheme": self.request.protocol,
                "running": self.application.running,
                "ticking": self.application.ticker.is_running(),
                "checksum": checksum,
            }
        )

    @run_on_executor
    def checksum(self, text):
        return sum(text.encode()) % 251


class HistoryHandler(BaseHandler):
    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(tornado.escape.json_encode(self.application.history))


class ConsoleSocket(tornado.websocket.WebSocketHandler):
    def open(self):
        if not self.current_user:
            self.close(4001, "log in first")
            return
        self.jobs = {}
        self.send({"hello": self.current_user, "slots": options.slots})

    def get_current_user(self):
        operator = self.get_secure_cookie("operator")
        return operator.decode() if operator else None

    def send(self, payload):
        try:
            self.write_message(payload)
        except tornado.websocket.WebSocketClosedError:
            app_log.info("console left before %r", payload)

    def on_message(self, message):
        try:
            request = tornado.escape.json_decode(message)
        except ValueError:
            self.send({"error": "not JSON"})
            return
        job_id = request.get("id", "?")
        if "run" in request:
            command = COMMANDS.get(request["run"])
            if command is None:
                app_log.warning("unknown command %s", request["run"])
                self.send({"id": job_id, "error": "unknown command %s" % request["run"]})
                return
            loop = tornado.ioloop.IOLoop.current()
            loop.spawn_callback(self.run_job, job_id, command + request.get("args", []))
        elif "stdin" in request:
            self.jobs[job_id].stdin.write(tornado.escape.utf8(request["stdin"] + "\n"))
        elif "eof" in request:
            self.jobs[job_id].stdin.close()

    @tornado.gen.coroutine
    def run_job(self, job_id, argv):
        app = self.application
        with (yield app.slots.acquire()):
            app.running += 1
            Subprocess = tornado.process.Subprocess
            job = Subprocess(
                argv, stdin=Subprocess.STREAM, stdout=Subprocess.STREAM, stderr=subprocess.STDOUT
            )
            self.jobs[job_id] = job
            self.send({"id": job_id, "started": True})
            lines = 0
            while True:
                try:
                    line = yield job.stdout.read_until(b"\n")
                except StreamClosedError:
                    break
                lines += 1
                self.send({"id": job_id, "line": tornado.escape.to_unicode(line).rstrip()})
            status = yield job.wait_for_exit(raise_error=False)
            app.running -= 1
            yield app.finished.put({"id": job_id, "status": status, "lines": lines})
            yield app.finished.join()  # the history holds it before the client hears of it
            self.send({"id": job_id, "exit": status})

    def on_close(self):
        for job in getattr(self, "jobs", {}).values():
            if job.proc.poll() is None:
                job.proc.kill()


class Console(tornado.web.Application):
    def __init__(self):
        handlers = [
            (r"/login", LoginHandler),
            (r"/status", StatusHandler),
            (r"/history", HistoryHandler),
            (r"/console", ConsoleSocket),
        ]
        tornado.web.Application.__init__(
            self, handlers, cookie_secret="console-secret", login_url="/login"
        )
        self.slots = tornado.locks.Semaphore(options.slots)
        self.finished = tornado.queues.Queue()
        self.history = []
        self.running = 0
        self.ticks = 0
        self.ticker = tornado.ioloop.PeriodicCallback(self.tick, 20)

    @tornado.gen.coroutine
    def keep_history(self):
        while True:
            item = yield self.finished.get()
            try:
                self.history.append(item)
            finally:
                self.finished.task_done()

    def tick(self):
        self.ticks += 1


def make_app():
    app = Console()
    tornado.ioloop.IOLoop.current().spawn_callback(app.keep_history)
    return app


def main():
    tornado.options.parse_command_line()
    app = make_app()
    server = tornado.httpserver.HTTPServer(app, xheaders=True)
    sockets = tornado.netutil.bind_sockets(options.port, "127.0.0.1")
    server.add_sockets(sockets)
    port = sockets[0].getsockname()[1]
    loop = tornado.ioloop.IOLoop.current()
    ticker = app.ticker
    ticker.start()

    def shutdown():
        server.stop()
        ticker.stop()
        loop.stop()

    def on_signal(signum, frame):
        loop.add_callback_from_signal(shutdown)

    signal.signal(signal.SIGTERM, on_signal)
    print("Listening on port %d" % port, flush=True)
    loop.start()
    sys.stderr.write("console stopped cleanly\n")


if __name__ == "__main__":
    main()
