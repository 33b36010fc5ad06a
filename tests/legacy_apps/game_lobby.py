#!/usr/bin/env python
"""A two-player game server in the manner of Tornado 4-6 era games: options set as items,
sockets bound with bind_sockets and added to an HTTPServer, a handler that overrides
__init__, gen.coroutine hooks, a queue per player drained by a spawned coroutine, a Condition
that pairs players, a subprotocol, pings and pongs, binary frames, a turn timer, and close
codes passed to the opponent."""

import sys

from tornado import (
    escape,
    gen,
    httpserver,
    ioloop,
    locks,
    netutil,
    options,
    queues,
    web,
    websocket,
)

options.define("turn_seconds", default=30.0, type=float)


class Lobby(object):
    def __init__(self):
        self.waiting = None
        self.paired = locks.Condition()
        self.games = 0


LOBBY = Lobby()


class PlayerSocket(websocket.WebSocketHandler):
    def __init__(self, *args, **kwargs):
        self.outbox = queues.Queue(maxsize=8)
        self.opponent = None
        self.turn_timer = None
        super(PlayerSocket, self).__init__(*args, **kwargs)

    def select_subprotocol(self, subprotocols):
        return "game.v1" if "game.v1" in subprotocols else None

    def get_compression_options(self):
        return {}

    @gen.coroutine
    def open(self):
        self.set_nodelay(True)
        self.name = self.get_query_argument("name", "anon")
        ioloop.IOLoop.current().spawn_callback(self.drain)
        yield self.outbox.put({"hello": self.name, "protocol": self.selected_subprotocol})
        if LOBBY.waiting is None or LOBBY.waiting.ws_connection is None:
            LOBBY.waiting = self
            yield self.outbox.put({"wait": "for an opponent"})
            yield LOBBY.paired.wait()
        else:
            first, LOBBY.waiting = LOBBY.waiting, None
            first.opponent, self.opponent = self, first
            LOBBY.games += 1
            LOBBY.paired.notify_all()
            yield gen.moment
            for player, mark in ((first, "X"), (self, "O")):
                yield player.outbox.put(
                    {"start": LOBBY.games, "mark": mark, "against": player.opponent.name}
                )
            first.start_turn()

    @gen.coroutine
    def drain(self):
        while True:
            item = yield self.outbox.get()
            if item is None:
                return
            try:
                if isinstance(item, bytes):
                    yield self.write_message(item, binary=True)
                else:
                    yield self.write_message(item)
            except websocket.WebSocketClosedError:
                return
            finally:
                self.outbox.task_done()

    def start_turn(self):
        self.stop_turn()
        self.turn_timer = ioloop.IOLoop.current().call_later(
            options.options.turn_seconds, self.time_out
        )

    def stop_turn(self):
        if self.turn_timer is not None:
            ioloop.IOLoop.current().remove_timeout(self.turn_timer)
            self.turn_timer = None

    def time_out(self):
        self.turn_timer = None
        self.close(4008, "turn timed out")

    @gen.coroutine
    def on_message(self, message):
        if isinstance(message, bytes):
            yield self.outbox.put(message[::-1])
            return
        move = escape.json_decode(message)
        if "ping" in move:
            self.ping(escape.utf8(move["ping"]))
        elif "quit" in move:
            self.close(move["quit"], move.get("why"))
        elif self.opponent is None:
            yield self.outbox.put({"error": "no game yet"})
        else:
            self.stop_turn()
            yield self.opponent.outbox.put({"move": move, "by": self.name})
            yield self.outbox.put({"ok": move})
            self.opponent.start_turn()

    def on_pong(self, data):
        self.outbox.put_nowait({"pong": escape.to_unicode(data)})

    def on_close(self):
        self.stop_turn()
        self.outbox.put_nowait(None)
        if LOBBY.waiting is self:
            LOBBY.waiting = None
        if self.opponent is not None and self.opponent.ws_connection is not None:
            self.opponent.outbox.put_nowait(
                {"gone": self.name, "code": self.close_code, "reason": self.close_reason}
            )


class StatsHandler(web.RequestHandler):
    def get(self):
        self.write({"games": LOBBY.games, "waiting": LOBBY.waiting is not None})


def main():
    options.options["logging"] = "warning"
    options.parse_command_line()
    app = web.Application(
        [(r"/play", PlayerSocket), (r"/stats", StatsHandler)], websocket_ping_interval=0
    )
    sockets = netutil.bind_sockets(0, "127.0.0.1", backlog=16)
    server = httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    print("Listening on port %d" % sockets[0].getsockname()[1])
    sys.stdout.flush()
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
