"""The private parts of Faust, mode and aiokafka that our code copies, overrides or writes to are
still the ones it was written against.

``streams/worker/transport.py`` overrides private methods of Faust's consumer (its inner loop
``_drain_messages`` is a rewrite of Faust's, ``_new_offset`` a replacement) and of mode's flow
control; ``streams/worker/stream.py`` rewrites ``Stream.take_events``; ``agents/validate.py`` writes the entity-state table's memory store directly. pyproject.toml
pins faust-streaming, mode-streaming and aiokafka exactly for that. Here the source of each such
library method is hashed (sha256 of ``inspect.getsource``) and compared with the digest recorded
when our code was last checked against it. After an upgrade, a failure names the method and what
in our code to re-check; once that is done (and carried over), record the new digest below.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import inspect
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

import pytest

#: the versions the digests were recorded with
RECORDED_WITH = {"faust-streaming": "0.15.3", "mode-streaming": "0.7.1", "aiokafka": "0.14.0"}
INSTALLED = {name: version(name) for name in RECORDED_WITH}

TRANSPORT = "streams/worker/transport.py"
VALIDATE = "agents/validate.py"
STREAM = "streams/worker/stream.py"


@dataclass(frozen=True)
class Relied:
    """A library method (``module:Class.attribute``), its recorded digest, and what of ours copies
    or relies on it."""

    target: str
    digest: str
    recheck: str

    def __str__(self) -> str:
        return self.target


RELIED = [
    # ---- Faust's consumer: transport.Consumer overrides these, or calls them and relies on what they do
    Relied("faust.transport.consumer:Consumer._drain_messages",
           "44a2500309e83c630493f6828af50166ec8d96a0b3e4fb2bab735f704ae93417",
           f"{TRANSPORT} Consumer._drain_messages, a rewrite of it (the hand-over awaited directly while the flow "
           "runs, wait_first only while it is suspended, a stale fetch ended early, gaps, commit_every, the "
           "stop/cancel handling): carry every change of Faust's loop over into ours."),
    Relied("faust.transport.consumer:Consumer._new_offset",
           "1d2c7ea89a7ad4f1a216c1d51936e569162cd66bd56f889e13fd29c910b58eb0",
           f"{TRANSPORT} Consumer._new_offset (and Consumer._held), which replace it: the acked run starts at the "
           "committed offset or the first record read since the last seek; gaps folded into _acked the same way; "
           "_acked and _acked_index trimmed as Faust does."),
    Relied("faust.transport.consumer:Consumer.ack",
           "5fcf41cf45153475de3790dc56fec1b83335956dc8b3bf7ff6bbb2b57627f03f",
           f"{TRANSPORT} Consumer.ack: it calls this for records of the current generation while the flow runs, "
           "and otherwise only discards the message from _unacked_messages; check the bookkeeping it skips "
           "(_acked, _acked_index, _n_acked, message.acked) still matters nowhere else."),
    Relied("faust.transport.consumer:Consumer.__init__",
           "302410d59e6972d144e35ce91483b28783e01fd039f02a51f0b06c6d3953a001",
           f"the consumer state {TRANSPORT} reads and writes (Consumer._new_offset, ack, _drain_messages, "
           "_read_skipped, perform_seek): _acked (lists), _acked_index (sets), _gap (IntervalTrees), _read_offset and "
           "_committed_offset (defaultdicts of None), _unacked_messages, _commit_every, suspend_flow."),
    Relied("faust.transport.consumer:Consumer._add_gap",
           "4df2573ded7c1c2cde04dc6bde6d4480cb5875ef565256e56966b585ae39b1c1",
           f"{TRANSPORT} Consumer._drain_messages calls it for offsets with no record; Consumer._new_offset folds "
           "those gaps (intervals with an exclusive end) into the acked run."),
    Relied("faust.transport.consumer:Consumer._filter_committable_offsets",
           "dc5e9baf5d994485473ce80aed1873b9318f02d735fde21e285de3d0c52a5e0e",
           f"the caller of _new_offset: {TRANSPORT} Consumer._new_offset pops the run it returns and returns None "
           "while the record at the head is not acked; check it is still called once per partition per commit, "
           "then _should_commit."),
    Relied("faust.transport.consumer:Consumer._commit_offsets",
           "1a6979904118844111259d182ca1c6e92ccc16364ccbe55c58e59d6e254a7adb",
           f"{TRANSPORT} Consumer._commit, which refuses (returns False) once app.send_failed is set: check this "
           "still flushes the producer first and that a False commits nothing."),
    Relied("faust.transport.consumer:Consumer.seek",
           "b86a9fe05f956b30cf299c787b6787c6e0349cbf1ae556f2456a1e97b15dbb22",
           f"{TRANSPORT} Consumer.seek calls it (after forgetting _first_read and _skipped): it must still call "
           "_seek (ours, on the consumer thread) and set _read_offset."),
    Relied("faust.transport.consumer:Consumer.perform_seek",
           "0e8c130ff4b0afd82c0be9c5fd831316e10febc62c94032833911096e156d7c6",
           f"{TRANSPORT} Consumer.perform_seek calls it, then seeks the stream partitions with nothing in "
           "_committed_offset to their earliest offsets."),
    Relied("faust.transport.consumer:Consumer.on_partitions_revoked",
           "d04b7ae72c6fc206924a2879d6c90dd383f3e8ba6f4b10a19ca99a921eb8f4db",
           f"{TRANSPORT} Consumer.on_partitions_revoked drops our per-partition state (_first_read, _reread, "
           "_skipped, _reread_once), then calls it."),
    Relied("faust.transport.consumer:Consumer.getmany",
           "4b168d84882a70d6e3e2f9804430a63b92f8fd117d3187cbb4aeb54305bda34e",
           f"{TRANSPORT} Consumer._drain_messages iterates it: it stops at a consumer generation change or a "
           "stopped flow (and seeks back to the commit while the flow is stopped); our stale-fetch break and "
           "Consumer.ack's generation check assume that."),
    Relied("faust.transport.consumer:ThreadDelegateConsumer.__init__",
           "7072ae80eac1ff62b52ce9503a8fe7b6ff44fbb390b8f6beba7161b31b8bb483",
           f"{TRANSPORT} Consumer.__init__ runs it; Consumer._seek uses the consumer thread it makes (self._thread: "
           "the driver's AIOKafkaConsumerThread)."),
    Relied("faust.transport.consumer:ThreadDelegateConsumer._seek",
           "4f95c631420410a5fe6ecb1eff2f9010d7cfff6861fe00d41889bb31bd7df8b1",
           f"{TRANSPORT} Consumer._seek, which replaces it: the seek runs on the consumer thread (call_thread) "
           "instead of the caller's event loop."),
    Relied("faust.transport.consumer:ThreadDelegateConsumer._commit",
           "a20eec84e4b2ed5072f6c6ab7707ac03d69e2255d67f115c31f8dc9cc246dc66",
           f"{TRANSPORT} Consumer._commit wraps it (super()._commit)."),
    # ---- Faust's aiokafka driver
    Relied("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.seek",
           "1498560d05f025820be906f3695710b6ac45258ea1c96ab5a403fcb38520c234",
           f"what Faust's _seek runs from the caller's thread; {TRANSPORT} Consumer._seek runs the same "
           "(_ensure_consumer().seek) through call_thread instead."),
    Relied("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._ensure_consumer",
           "ff4a4c693b7ec63f4a76dfb61c419380bef70dd32383fe38ebcfcc27091605a6",
           f"{TRANSPORT} Consumer._seek calls it for aiokafka's consumer."),
    Relied("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread.seek_to_committed",
           "775ab0adc4b052abee204d5347a556412b1f77ed4de971adde69a55a1cb6f908",
           f"the seek of Faust's perform_seek; {TRANSPORT} Consumer.perform_seek assumes partitions with nothing "
           "committed are left where their reading got to, and seeks them itself."),
    Relied("faust.transport.drivers.aiokafka:AIOKafkaConsumerThread._seek_wait",
           "9d221e816d9404678ac2d802b1419c7c2d166cbc9c8ec9f689a77673b8f2e85f",
           f"{TRANSPORT} Consumer.perform_seek calls seek_wait for partitions with nothing committed; this edits "
           "the consumer's _read_offset, which Consumer._drain_messages and _read_skipped read."),
    Relied("faust.transport.drivers.aiokafka:Producer._settings_extra",
           "a4c7bc41b63822236e4c9be1c49437d091f58c1b3a983eecabb7362a819aa8bd",
           f"{TRANSPORT} Producer._settings_extra adds acks='all' and enable_idempotence=True to what it returns."),
    Relied("faust.transport.drivers.aiokafka:Transport._really_create_topic",
           "698806ec237ce0d79243e063ca3913ebed5205e37095932282bf130ee5483fbd",
           f"{TRANSPORT} Transport._really_create_topic calls it again while it raises (a broker lost, a controller "
           "being elected): it must still return when the topic exists or was made, and raise otherwise."),
    # ---- Faust's stream: the agents' stream class is streams/worker/stream.py's
    Relied("faust.streams:Stream.take_events",
           "607d48aead118ba8ea868718a0df87de1c5fcecd10ec542c659b448796728e08",
           f"{STREAM} Stream.take_events, a rewrite of it (no wake-ups while the buffer is empty; the same lists, "
           "acks and clean-up otherwise): carry every change of Faust's over into ours."),
    Relied("faust.streams:Stream._enable_passive",
           "64da8ce9f729e30ea2c6952a4cb55617c1231f82793c4435966a8b811a0f26e8",
           f"{STREAM} Stream.take_events calls it to consume the channel in the background, as Faust's does."),
    Relied("faust.streams:Stream.on_stop",
           "81b327b1578dff1c76da6f64a0ea3a2e9ce936b5896eb98502f61f175186fcdd",
           f"{STREAM} Stream.take_events registers its generator in _active_agens: on_stop must still close them."),
    # ---- Faust's app
    Relied("faust.app.base:App._new_transport",
           "42db531312dd776fc3937154a32f19eeb9ad7d4ebc2722a92d081a2d271baea1",
           f"{TRANSPORT} App._new_transport, which replaces it with our Transport(conf.broker_consumer, app): "
           "check the arguments."),
    Relied("faust.app.base:App.flow_control",
           "f664abbe76e25985fd8ebcd1fbc5e2b3174909d2000a5aa3595e8516fdb903a5",
           f"{TRANSPORT} App.flow_control, which replaces it with our FlowControl(loop=self.loop)."),
    Relied("faust.app.base:App.on_init_dependencies",
           "7621a70a9b01f93f5d8ee7a909a2065402bd7c5458ffa7e338e51de5032624b2",
           f"{TRANSPORT} App.on_init_dependencies, which calls it and then removes the Monitor it adds to the app's "
           "sensors: check that Faust still adds it there, and that the services it returns read the sensors lazily."),
    # ---- mode
    Relied("mode.utils.queues:FlowControlEvent.resume",
           "4dcdc1253fd0dcb40de18a3702503c01d21e9da7e5e55b122fb92615f27648d9",
           f"{TRANSPORT} FlowControl.resume: resuming must still empty the queues through self.clear(), which "
           "FlowControl skips while it resumes."),
    Relied("mode.utils.queues:FlowControlEvent.clear",
           "dda5e40d80288a8f4244cffdf3e7a648773579a72e64b40182bbbc2424752524",
           f"{TRANSPORT} FlowControl.clear, which skips it while resuming (the revocation's clear still runs)."),
    Relied("mode.threads:QueueServiceThread.call_thread",
           "479edda75b54734b48dabbb33071259949ded0a6f9fa6f82e81afdc42aff6e55",
           f"{TRANSPORT} Consumer._seek runs aiokafka's seek on the consumer thread with it."),
    # ---- aiokafka
    Relied("aiokafka.consumer.consumer:AIOKafkaConsumer.seek",
           "a9430f1f3b9ac4194dfccc7b61d3aa32f89ed3d1b065e78c72eec34380e4f9ca",
           f"{TRANSPORT} Consumer._seek calls it on the consumer thread (it changes the fetcher's state: "
           "Fetcher.seek_to)."),
    Relied("aiokafka.consumer.consumer:AIOKafkaConsumer.seek_to_committed",
           "f6cd85c8b70a4ccf7e862de24f6c5d985038eed3e140990f000aa4b52eda8d72",
           f"{TRANSPORT} Consumer.perform_seek: a partition with nothing committed (None or 0) is not sought here, "
           "so perform_seek seeks such stream partitions to their earliest offsets itself."),
    Relied("aiokafka.consumer.fetcher:Fetcher.seek_to",
           "f0ba6aba6c22ef83e0d58690ef771d04777032ec48cbfa68325c67bf0ef508f4",
           f"why {TRANSPORT} Consumer._seek seeks on the consumer thread: this drops the partition's fetched "
           "records, which Fetcher.fetched_records iterates on that thread (a KeyError when they raced)."),
    Relied("aiokafka.consumer.fetcher:Fetcher.fetched_records",
           "be4348896b9b66afe048de954e2be91c546f4e96c94cb120d5764ec77ce8f19e",
           f"why {TRANSPORT} Consumer._seek seeks on the consumer thread (see Fetcher.seek_to)."),
    # ---- Faust's tables: agents/validate.py writes the entity-state table's memory store itself
    Relied("faust.tables.base:Collection.data",
           "ade4a02ddd5582cb4264a7f927bf7a59e1c0ca6d0ebf9da40b665860cd1187f4",
           f"{VALIDATE} register/validate: entity_state.data is the table's store, faust.stores.memory.Store "
           "for the default memory:// store."),
    Relied("faust.stores.memory:Store.__post_init__",
           "e59c82f3785458b2c6bb8179a01b57270be3edf167615a3f6508f102b173baa2",
           f"{VALIDATE} validate and _sweep use the memory store's .data (a dict, kept in recency order) and "
           "._key_partition directly."),
    Relied("faust.stores.memory:Store.apply_changelog_batch",
           "71863e3cd727aac2001c4f19a393c637275eab36056c9a2d395ed1c7528e7647",
           f"the entity-state table's recovery: {VALIDATE} validate writes its changelog records itself (raw bytes: "
           "the entity id, the orjson state; _sweep a None tombstone), which this must still read back into "
           ".data and ._key_partition."),
    Relied("faust.stores.memory:Store._create_batch_iterator",
           "b082c8bcc040382347025bd5b08d31700b2e6b1d2c0232f1de551f1b5495d1ed",
           f"the entity-state table's recovery (see Store.apply_changelog_batch; {VALIDATE} validate and _sweep)."),
    Relied("faust.stores.memory:Store.on_recovery_completed",
           "a00bef343e139602606996e88809e62731a9113691ae678095266a52e0e0b013",
           f"it drops the keys whose ._key_partition is not assigned: why {VALIDATE} validate sets "
           "store._key_partition for every entity it writes and _sweep pops it."),
    Relied("faust.tables.base:Collection.send_changelog",
           "3dd3884e1b5fc0e1612bc688b83d9318a1805ddc49700d3b6b37bade73c3905d",
           f"{VALIDATE} validate writes the changelog itself (out.add(changelog, value, key, partition=...)) "
           "instead: check the key and value serializers, the partition and the _on_changelog_sent callback it skips."),
    Relied("faust.tables.table:Table.on_key_set",
           "a370e35ca55c2c7e36e93f0d4b485927c32d49199043cab2314572846184dd94",
           f"what a table write does that {VALIDATE} validate skips by writing the store directly: the changelog "
           "record, the key's TTL (_maybe_set_key_ttl), the sensors."),
    Relied("faust.tables.table:Table.on_key_del",
           "4f2900b2f9d24a080d5cbc9eaa1f5566f1d11e56916e79b02f079c52f4751053",
           f"what a table delete does that {VALIDATE} _sweep skips by deleting from the store directly: the "
           "tombstone, the key's TTL (_maybe_del_key_ttl), the sensors."),
]


def resolve(target: str) -> Any:
    """The function ``module:Class.attribute`` names, defined on that very class (not inherited)."""
    module_name, _, path = target.partition(":")
    owner: Any = importlib.import_module(module_name)
    *classes, attribute = path.split(".")
    for name in classes:
        owner = getattr(owner, name)
    found = vars(owner)[attribute]  # KeyError: no longer defined there
    if isinstance(found, (staticmethod, classmethod)):
        return found.__func__
    if isinstance(found, property):
        return found.fget
    if isinstance(found, functools.cached_property):
        return found.func
    getter = getattr(found, "_cached_property__get", None)  # mode's cached_property
    return getter if getter is not None else found


def digest(target: str) -> str:
    return hashlib.sha256(inspect.getsource(resolve(target)).encode()).hexdigest()


def installed() -> str:
    """``faust-streaming X (with mode-streaming Y, aiokafka Z)``: the versions installed now."""
    others = ", ".join(f"{name} {v}" for name, v in INSTALLED.items() if name != "faust-streaming")
    return f"faust-streaming {INSTALLED['faust-streaming']} (with {others})"


@pytest.mark.parametrize("relied", RELIED, ids=str)
def test_the_library_method_is_the_one_our_code_was_checked_against(relied: Relied) -> None:
    try:
        now = digest(relied.target)
    except (AttributeError, KeyError, ImportError) as exc:
        pytest.fail(f"{relied.target} is gone from the installed {installed()}: {exc!r}. "
                    f"Re-check {relied.recheck} Then update its entry in tests/unit/test_faust_digest.py.", pytrace=False)
    assert now == relied.digest, (
        f"{relied.target} changed in the installed {installed()}; the digest was recorded with "
        f"{', '.join(f'{n} {v}' for n, v in RECORDED_WITH.items())}: "
        f"sha256 of its source is now {now}. Re-check {relied.recheck} "
        f"Then record the new digest in tests/unit/test_faust_digest.py.")


def test_each_method_is_digested_once() -> None:
    targets = [relied.target for relied in RELIED]
    assert len(targets) == len(set(targets))


def test_every_library_method_our_transport_overrides_is_digested() -> None:
    """Each method (or property) our transport's classes define over a library's: the definition
    they override is in the list."""
    from streams.worker import stream, transport

    targets = {relied.target for relied in RELIED}
    for ours in (transport.Consumer, transport.Producer, transport.Transport, transport.App, transport.FlowControl,
                 stream.Stream):
        for name, value in vars(ours).items():
            if isinstance(value, type) or not (inspect.isfunction(value) or isinstance(value, property)
                                               or hasattr(value, "_cached_property__get")):
                continue
            base = next((base for base in ours.__mro__[1:] if name in vars(base)), None)
            if base is None:
                continue  # ours only
            overridden = f"{base.__module__}:{base.__qualname__}.{name}"
            assert overridden in targets, (f"{ours.__qualname__}.{name} in {TRANSPORT} overrides {overridden}, "
                                           "which is not digested here: add it, with what of ours to re-check")
