"""Dependency-free Python client for nc-data-daemon (standard library only).

Talks HTTP/1.1 to the daemon's control socket, starting the daemon when it is not running::

    import nc_data_daemon as nc
    nc.ensure_daemon()                 # optional: start_recording() does it too
    nc.start_recording(name="run-1")
    nc.log("/joints", {"q": [0.1, 0.2]})
    nc.log_binary("/camera/rgb", jpeg_bytes)
    nc.add_file("calibration.yaml")
    nc.stop_recording()

A batch of messages is acknowledged by the daemon only once it is on disk; ``log`` buffers
messages and sends them in batches (by count, size or age), so call ``flush`` or
``stop_recording`` before relying on them being stored.
"""

import base64
import decimal
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.parse

__all__ = [
    "DaemonError", "Client", "Recording", "ensure_daemon", "start_recording", "log", "log_binary",
    "add_file", "flush", "stop_recording", "socket_path", "system_socket_path", "seconds_to_ns",
]


class DaemonError(Exception):
    """An error answered by the daemon ({"error": {"code", "message"}}) or reaching it."""

    def __init__(self, message, status=None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


def socket_path(instance=None, home=None):
    """The control socket of the default instance, or of ``instance`` (env NCD_INSTANCE), or of the
    instance whose folder env NCD_INSTANCE_DIR names (``nc-data-daemon run`` sets it)."""
    folder = os.environ.get("NCD_INSTANCE_DIR", "").strip()
    if not instance and folder:
        return os.path.join(folder, "daemon.sock")
    home = home or os.environ.get("HOME") or os.path.expanduser("~")
    instance = instance or os.environ.get("NCD_INSTANCE") or None
    root = os.path.join(home, ".neuracore", "data_daemon")
    if instance:
        root = os.path.join(root, "instances", instance)
    return os.path.join(root, "daemon.sock")


def system_socket_path():
    """The system service's socket (``service install --system``); NCD_SYSTEM_ROOT moves it, for tests."""
    root = os.environ.get("NCD_SYSTEM_ROOT", "").strip() or "/"
    return os.path.join(root, "run", "nc-data-daemon", "daemon.sock")


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class Client:
    """One daemon instance, addressed by its socket."""

    def __init__(self, instance=None, timeout=60.0, binary=None):
        self.instance = instance
        self.socket = socket_path(instance)
        self.timeout = timeout
        # NCD_DAEMON_BIN is the TypeScript SDK's variable too; an empty value counts as unset.
        self.binary = binary or os.environ.get("NCD_DAEMON_BIN") or shutil.which("nc-data-daemon") or "nc-data-daemon"

    def request(self, method, path, body=None, content_type="application/json", headers=None):
        conn = _UnixConnection(self.socket, self.timeout)
        try:
            hdrs = dict(headers or {})
            if body is not None:
                if not isinstance(body, (bytes, bytearray)) and not hasattr(body, "read"):
                    body = json.dumps(body).encode()
                hdrs["Content-Type"] = content_type
            conn.request(method, path, body=body, headers=hdrs)
            res = conn.getresponse()
            data = res.read()
        except (FileNotFoundError, ConnectionRefusedError) as err:
            raise DaemonError("Daemon not running (no answer on %s): %s" % (self.socket, err), code="not_running") from err
        except socket.timeout as err:
            raise DaemonError("The daemon on %s did not answer within %.0f s" % (self.socket, self.timeout), code="unavailable") from err
        finally:
            conn.close()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        if res.status >= 400:
            err = parsed.get("error", {}) if isinstance(parsed, dict) else {}
            message = err.get("message") or "The daemon answered HTTP %d: %s" % (res.status, data[:200].decode("utf-8", "replace"))
            raise DaemonError(message, res.status, err.get("code"))
        return parsed

    def health(self):
        return self.request("GET", "/v1/health")

    def is_running(self):
        try:
            self.health()
            return True
        except (DaemonError, OSError):
            return False

    def _use_system_daemon(self):
        """With no instance asked for and no daemon of the user's own, the system service's
        daemon, when it runs, is the one to use: never start a second one beside it."""
        system = system_socket_path()
        # A non-member cannot see into the 0750 socket folder; the folder alone says the service runs.
        if self.instance or os.environ.get("NCD_INSTANCE") or os.environ.get("NCD_INSTANCE_DIR", "").strip() or not os.path.isdir(os.path.dirname(system)):
            return False
        try:
            os.stat(system)
        except FileNotFoundError:
            return False
        except PermissionError:
            pass
        if not os.access(system, os.R_OK | os.W_OK):
            raise DaemonError("A system daemon listens on %s, but this user may not use it: add the user to the group "
                              "nc-data-daemon (sudo usermod -aG nc-data-daemon $USER), or use an instance of your own." % system)
        own, self.socket = self.socket, system
        if self.is_running():
            return True
        self.socket = own
        return False

    def ensure_daemon(self, profile=None, wait=15.0):
        """Starts the daemon in the background unless it answers already (the user's own, else the
        system service's); waits until ready."""
        if self.is_running() or self._use_system_daemon():
            return self.health()
        args = [self.binary, "launch", "--background"]
        profile = profile or os.environ.get("NEURACORE_DAEMON_PROFILE") or None
        if profile:
            args += ["--profile", profile]
        if self.instance:
            args += ["--instance", self.instance]
        try:
            proc = subprocess.run(args, capture_output=True, text=True, timeout=wait)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise DaemonError("Could not run %s to start the daemon: %s (set NCD_DAEMON_BIN or put nc-data-daemon on PATH)" % (self.binary, err)) from err
        # Another process may have started it first: "already running" is success for us.
        if proc.returncode != 0 and "already running" not in proc.stderr:
            raise DaemonError("Could not start the daemon: %s" % (proc.stderr.strip() or proc.stdout.strip()))
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.is_running():
                return self.health()
            time.sleep(0.02)
        raise DaemonError("The daemon did not answer on %s within %.0f s" % (self.socket, wait))

    def start_recording(self, name=None, dataset=None, robot_id=None, metadata=None, traces=None, priority=None, **batching):
        """``traces``: dicts of name, encoding, schema_name, schema_encoding and schema; a schema
        given as bytes (e.g. a protobuf FileDescriptorSet) is sent as schema_base64, exactly.
        ``priority``: "high", "normal" (the default) or "low"; uploads go by it, then age."""
        traces = None if traces is None else [_wire_trace(t) for t in traces]
        fields = dict(name=name, dataset=dataset, robot_id=robot_id, metadata=metadata, traces=traces, priority=priority)
        body = {k: v for k, v in fields.items() if v is not None}
        rec = self.request("POST", "/v1/recordings", body)
        return Recording(self, rec["id"], **batching)

    def prioritize(self, recording_id, priority):
        """Changes a recording's upload priority ("high" is "upload this one now"); returns the recording."""
        return self.request("PATCH", "/v1/recordings/%s" % _quote(recording_id), {"priority": priority})


# foxglove.CompressedImage as published in @foxglove/schemas (JSON Schema), so Foxglove shows
# camera traces declared with image_trace(). The exact text the TypeScript SDK declares.
IMAGE_SCHEMA_NAME = "foxglove.CompressedImage"
IMAGE_SCHEMA = "{\"title\":\"foxglove.CompressedImage\",\"description\":\"A compressed image\",\"$comment\":\"Generated by https://github.com/foxglove/foxglove-sdk\",\"type\":\"object\",\"properties\":{\"timestamp\":{\"type\":\"object\",\"title\":\"time\",\"properties\":{\"sec\":{\"type\":\"integer\",\"minimum\":0},\"nsec\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":999999999}},\"description\":\"Timestamp of image\"},\"frame_id\":{\"type\":\"string\",\"description\":\"Frame of reference for the image. The origin of the frame is the optical center of the camera. +x points to the right in the image, +y points down, and +z points into the plane of the image.\"},\"data\":{\"type\":\"string\",\"contentEncoding\":\"base64\",\"description\":\"Compressed image data\"},\"format\":{\"type\":\"string\",\"description\":\"Image format\\n\\nSupported values: `jpeg`, `png`, `webp`, `avif`\"}},\"required\":[\"timestamp\",\"frame_id\",\"data\",\"format\"]}"


def image_trace(name):
    """The declaration of a camera trace (jpeg, png, webp, avif images) for start_recording."""
    return {"name": name, "encoding": "json", "schema_name": IMAGE_SCHEMA_NAME, "schema_encoding": "jsonschema", "schema": IMAGE_SCHEMA}


def _wire_trace(trace):
    schema = trace.get("schema")
    if not isinstance(schema, (bytes, bytearray, memoryview)):
        return trace
    out = {k: v for k, v in trace.items() if k != "schema"}
    out["schema_base64"] = base64.b64encode(bytes(schema)).decode("ascii")
    return out


def seconds_to_ns(seconds):
    """Nanoseconds in ``seconds`` (since the epoch), counted from its shortest decimal text, which
    is what json writes for a float and what the daemon counts from: 1700000400.033 is
    1700000400033000000 ns, where ``seconds * 1e9`` gives 1700000400032999936. Halves round away
    from zero. An int or a decimal.Decimal is taken exactly."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float, decimal.Decimal)):
        raise TypeError("seconds must be a number, not %s" % type(seconds).__name__)
    # repr() of a float is its shortest text that reads back as the same float.
    value = decimal.Decimal(repr(seconds)) if isinstance(seconds, float) else decimal.Decimal(seconds)
    if not value.is_finite():
        raise ValueError("seconds must be finite, not %r" % (seconds,))
    with decimal.localcontext() as ctx:
        ctx.prec = 100
        return int(value.scaleb(9).to_integral_value(rounding=decimal.ROUND_HALF_UP))


def _encode_frame(trace, timestamp_ns, payload):
    name = trace.encode("utf-8")
    return struct.pack("<H", len(name)) + name + struct.pack("<QI", timestamp_ns, len(payload)) + bytes(payload)


_NDJSON = "application/x-ndjson"
_FRAMES = "application/vnd.ncd.frames"
# The states a wait ends on: the daemon's /v1/openapi.json names them (RecordingState, x-settled),
# and the client's test compares this list with the served document.
_SETTLED = ("uploaded", "failed", "cancelled")


def _quote(part):
    return urllib.parse.quote(part, safe="")


class Recording:
    """A recording being written. ``log`` batches messages; a batch is sent when it holds
    ``max_messages`` messages or ``max_bytes`` bytes, or is ``max_delay`` seconds old.

    Batches are sent in order, one at a time. A batch that fails in the background (sent by
    the age timer) is raised by the next call to ``log``, ``log_binary``, ``flush`` or ``stop``.
    Usable as a context manager: the recording is stopped when the block ends.
    """

    def __init__(self, client, recording_id, max_messages=1000, max_bytes=1 << 20, max_delay=0.1):
        self.client = client
        self.id = recording_id
        self.max_messages, self.max_bytes, self.max_delay = max_messages, max_bytes, max_delay
        self._lock = threading.RLock()
        self._items = []  # (content type, bytes), in the order logged
        self._size = 0
        self._timer = None
        self._failure = None

    def log(self, trace, data, timestamp=None):
        """Buffers one JSON message; ``timestamp`` is seconds since the epoch (default now).
        ``data`` is stored as the text json.dumps writes: ints of any size keep every digit, and
        a float is written as its shortest text (``0.0`` stays ``0.0``)."""
        ts = time.time() if timestamp is None else timestamp
        # allow_nan=False: NaN is not JSON, and the daemon would refuse the whole batch for it.
        line = json.dumps({"trace": trace, "timestamp": ts, "data": data}, separators=(",", ":"), allow_nan=False).encode() + b"\n"
        self._add(_NDJSON, line)

    def log_image(self, trace, data, format="jpeg", frame_id="", timestamp=None):
        """Buffers one camera image as foxglove.CompressedImage; declare the trace with
        image_trace(name) in start_recording."""
        ts = time.time() if timestamp is None else timestamp
        ns = seconds_to_ns(ts)
        message = {"timestamp": {"sec": ns // 1000000000, "nsec": ns % 1000000000}, "frame_id": frame_id,
                   "data": base64.b64encode(bytes(data)).decode("ascii"), "format": format}
        self.log(trace, message, ts)

    def log_binary(self, trace, payload, timestamp=None):
        """Buffers one binary message, stored byte for byte (see docs/frames.md)."""
        ts = time.time() if timestamp is None else timestamp
        self._add(_FRAMES, _encode_frame(trace, seconds_to_ns(ts), payload))

    def _raise_failure(self):
        err, self._failure = self._failure, None
        if err is not None:
            raise err

    def _add(self, kind, item):
        with self._lock:
            self._raise_failure()
            self._items.append((kind, item))
            self._size += len(item)
            if len(self._items) >= self.max_messages or self._size >= self.max_bytes:
                self.flush()
            elif self._timer is None:
                self._timer = threading.Timer(self.max_delay, self._flush_in_background)
                self._timer.daemon = True
                self._timer.start()

    def _flush_in_background(self):
        try:
            self._send()
        except Exception as err:  # reported by the next call, not lost in the timer thread
            with self._lock:
                self._failure = self._failure or err

    def _send(self):
        with self._lock:
            items, self._items, self._size = self._items, [], 0
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            # Consecutive messages of one kind go in one request, which keeps the order logged.
            start = 0
            while start < len(items):
                kind = items[start][0]
                end = start
                while end < len(items) and items[end][0] == kind:
                    end += 1
                body = b"".join(item for _, item in items[start:end])
                self.client.request("POST", "/v1/recordings/%s/messages" % _quote(self.id), body, kind)
                start = end

    def flush(self):
        """Sends what is buffered and returns once the daemon has it on disk."""
        with self._lock:
            self._send()
            self._raise_failure()

    def add_file(self, path, name=None):
        """Streams a file into the recording; returns {"name", "bytes", "sha256"}."""
        name = name or os.path.basename(path)
        size = os.path.getsize(path)
        with open(path, "rb") as fh:
            url = "/v1/recordings/%s/files/%s" % (_quote(self.id), _quote(name))
            return self.client.request("PUT", url, fh, "application/octet-stream", {"Content-Length": str(size)})

    def stop(self, wait=False, timeout=None, poll=0.1):
        """Flushes and stops the recording. With ``wait``, returns once it is uploaded or failed,
        or, when the daemon has no upload target or is offline, once it is finalized (nothing
        would change then). ``timeout`` (seconds) bounds the wait."""
        self.flush()
        rec = self.client.request("POST", "/v1/recordings/%s/stop" % _quote(self.id))
        deadline = None if timeout is None else time.monotonic() + timeout
        while wait:
            rec = self.client.request("GET", "/v1/recordings/%s" % _quote(self.id))
            if rec["state"] in _SETTLED:
                break
            if rec["state"] not in ("recording", "finalizing"):
                status = self.client.request("GET", "/v1/status")
                if status["uploads"].get("enabled") is False or status["config"].get("offline"):
                    break
            if deadline is not None and time.monotonic() >= deadline:
                break
            time.sleep(poll)
        return rec

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False


_default = {"client": None, "recording": None}


def _client(instance=None):
    if _default["client"] is None or (instance and _default["client"].instance != instance):
        _default["client"] = Client(instance=instance)
    return _default["client"]


def ensure_daemon(profile=None, instance=None):
    """Starts the daemon in the background unless it runs; returns its health {ok, pid, version}."""
    return _client(instance).ensure_daemon(profile)


def start_recording(profile=None, instance=None, **kwargs):
    """Starts the daemon if needed, then a recording that ``log`` and friends write to.
    Takes name, dataset, robot_id, metadata, traces, priority and the batching options of Recording."""
    client = _client(instance)
    client.ensure_daemon(profile)
    _default["recording"] = client.start_recording(**kwargs)
    return _default["recording"]


def _current():
    if _default["recording"] is None:
        raise DaemonError("No recording started: call start_recording() first")
    return _default["recording"]


def log(trace, data, timestamp=None):
    _current().log(trace, data, timestamp)


def log_binary(trace, payload, timestamp=None):
    _current().log_binary(trace, payload, timestamp)


def log_image(trace, data, format="jpeg", frame_id="", timestamp=None):
    _current().log_image(trace, data, format, frame_id, timestamp)


def add_file(path, name=None):
    return _current().add_file(path, name)


def flush():
    _current().flush()


def stop_recording(wait=False, timeout=None):
    rec = _current().stop(wait=wait, timeout=timeout)
    _default["recording"] = None
    return rec
