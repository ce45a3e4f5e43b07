"""dtq: a distributed task queue for Python on Redis that loses nothing.

import dtq

app = dtq.App()

@app.task(queue="emails", max_retries=5)
async def send_welcome(payload, ctx):
    ...

async with dtq.Client(dtq.Settings.from_env()) as client:
    await client.enqueue("send_welcome", {"user": 42}, queue="emails")
"""

from dtq.backoff import Backoff
from dtq.client import Client
from dtq.context import TaskContext
from dtq.errors import (
    Abort,
    ConfigError,
    DtqError,
    InvalidTask,
    RedisUnavailable,
    Retry,
    TaskFinished,
    TaskNotFound,
    UnsafeRedisConfig,
)
from dtq.registry import App, TaskDefinition
from dtq.scheduler import Scheduler
from dtq.settings import Settings
from dtq.store.calls import Enqueued, QueueCounts
from dtq.sync import SyncClient
from dtq.task import EnqueueOptions, Task, TaskError, TaskRequest, TaskState
from dtq.worker import Worker

__all__ = [
    "Abort",
    "App",
    "Backoff",
    "Client",
    "ConfigError",
    "DtqError",
    "EnqueueOptions",
    "Enqueued",
    "InvalidTask",
    "QueueCounts",
    "RedisUnavailable",
    "Retry",
    "Scheduler",
    "Settings",
    "SyncClient",
    "Task",
    "TaskContext",
    "TaskDefinition",
    "TaskError",
    "TaskFinished",
    "TaskNotFound",
    "TaskRequest",
    "TaskState",
    "UnsafeRedisConfig",
    "Worker",
]
