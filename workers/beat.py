"""Beat's scheduler with a leader lock, so that a second beat started by mistake never sends
the schedule twice.

Celery requires exactly one beat per schedule ("otherwise you'd end up with duplicate
tasks"). `LockedScheduler` holds a lock with a time to live, renewed on every tick: in Redis
when the broker is Redis (every beat of a deployment shares it), in a file of the data
folder for the embedded broker. A beat that cannot take the lock stands by, sending nothing,
and takes over when the active beat stops renewing (it crashed or was stopped), at most
`lock_ttl_seconds` later. The schedule's own tasks are safe to run twice anyway (feed
leases, unique alert episodes); the lock keeps the broker from doing twice the work.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import uuid
from pathlib import Path
from typing import Any, Protocol

import redis
from celery.beat import PersistentScheduler

log = logging.getLogger("monitor.beat")

LOCK_KEY = "monitor:beat-lock"
# Re-check often while standing by, so a takeover is quick once the lock is free.
STANDBY_RECHECK_SECONDS = 2.0

# Extend the lock only if we still own it: another beat may have taken an expired lock.
_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""


class LeaderLock(Protocol):
    """A lock with an owner and a time to live."""

    def hold(self) -> bool:
        """Take or renew the lock; return whether this process holds it now."""
        ...

    def release(self) -> None:
        """Give the lock up if this process holds it."""
        ...

    def holder(self) -> str | None:
        """Return who holds the lock, if anyone (for the standby message)."""
        ...


class RedisLeaderLock:
    """The lock as one Redis key whose value names its owner."""

    def __init__(self, url: str, *, ttl_seconds: float, key: str = LOCK_KEY) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self.key = key
        self.ttl_ms = int(ttl_seconds * 1000)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    def hold(self) -> bool:
        if self.client.eval(_RENEW, 1, self.key, self.owner, self.ttl_ms):
            return True
        return bool(self.client.set(self.key, self.owner, nx=True, px=self.ttl_ms))

    def release(self) -> None:
        self.client.eval(_RELEASE, 1, self.key, self.owner)

    def holder(self) -> str | None:
        value = self.client.get(self.key)
        return value.decode() if value else None


class FileLeaderLock:
    """The lock as an exclusive `flock` on a file: the kernel frees it when the process dies,
    so it needs no time to live."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: Any = None

    def hold(self) -> bool:
        if self._handle is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(f"{socket.gethostname()}:{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def holder(self) -> str | None:
        try:
            return self.path.read_text().strip() or None
        except OSError:
            return None


def make_leader_lock(broker_url: str, data_dir: Path, *, ttl_seconds: float) -> LeaderLock:
    """Return the lock that fits the broker: Redis for a Redis broker, else a file lock."""
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisLeaderLock(broker_url, ttl_seconds=ttl_seconds)
    return FileLeaderLock(data_dir / "beat.lock")


class LockedScheduler(PersistentScheduler):
    """A PersistentScheduler that sends tasks only while it holds the leader lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._lock: LeaderLock | None = None
        self._leading = False
        self._standby_logged = False
        super().__init__(*args, **kwargs)

    @property
    def lock_ttl_seconds(self) -> float:
        # Three ticks may be missed (a slow broker, a long sync) before the lock expires.
        return 3 * float(self.max_interval)

    def _leader_lock(self) -> LeaderLock:
        if self._lock is None:
            from monitor.settings import load_settings

            settings = load_settings()
            self._lock = make_leader_lock(
                self.app.conf.broker_url, settings.data_dir, ttl_seconds=self.lock_ttl_seconds
            )
        return self._lock

    def _check_leadership(self) -> bool:
        try:
            leading = self._leader_lock().hold()
        except redis.RedisError as exc:
            # The broker is down too, so nothing could be sent anyway; keep the role we had
            # and let the lock's time to live decide if the outage outlasts it.
            log.warning("beat lock: cannot reach Redis (%s); keeping role", exc)
            return self._leading
        if leading and not self._leading:
            log.warning("beat lock taken: this beat sends the schedule")
            self._standby_logged = False
        elif not leading and self._leading:
            log.error("beat lock lost to another beat: standing by")
        elif not leading and not self._standby_logged:
            log.warning(
                "another beat holds the schedule lock (%s): standing by; run exactly one beat",
                self._leader_lock().holder(),
            )
            self._standby_logged = True
        self._leading = leading
        return leading

    def tick(self, *args: Any, **kwargs: Any) -> float:
        """Run one scheduler pass if this beat leads; return the seconds until the next."""
        if not self._check_leadership():
            return min(STANDBY_RECHECK_SECONDS, float(self.max_interval))
        return super().tick(*args, **kwargs)

    def close(self) -> None:
        super().close()
        if self._lock is not None and self._leading:
            with contextlib.suppress(redis.RedisError):  # it expires on its own then
                self._lock.release()
            self._leading = False


__all__ = [
    "LOCK_KEY",
    "FileLeaderLock",
    "LeaderLock",
    "LockedScheduler",
    "RedisLeaderLock",
    "make_leader_lock",
]
