"""Read storage usage history from a Prometheus server over its HTTP API.

Each *selector* is a pair of PromQL expressions (used bytes, capacity bytes) for one kind of
storage: Kubernetes volumes, node filesystems, Ceph pools, object-store buckets. The defaults
below match the exporters in common use; a YAML file (see ``monitoring/capacity-sources.yaml``)
replaces them. Series are joined on their identity labels and mapped to the department,
system and storage pool of the city declaration, so the forecasts carry the labels ops teams
route alerts by.
"""

from __future__ import annotations

import base64
import http.client
import json
import logging
import math
import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_args

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from dizuo import __version__
from dizuo.capacity.config_files import ConfigError, load_model
from dizuo.capacity.deadline_http import open_by
from dizuo.capacity.types import Reading, UsageHistory
from dizuo.datapool.shapes import dataset_namespace
from dizuo.declaration.loader import show_value
from dizuo.declaration.model import CEPH_BACKENDS, Declaration
from dizuo.naming import name as resource_name

# Prometheus refuses range queries of more than 11,000 points per series.
MAX_POINTS = 11_000
# The longest wait for one answer (`timeout`): a day, the longest interval between runs of `dizuo capacity serve`.
MAX_TIMEOUT = 86400
# The labels every forecast carries, in this order; bounded by the declaration and the fleet.
LABELS = ("kind", "volume", "pool", "department", "system")
# A range query over more steps than this is asked in slices of time (see PrometheusSource.query_range): this many
# newest steps first (one day at the 15-minute step), then slices of about SLICE_POINTS points each (some 14 MiB of
# JSON, 130 MiB while parsed).
PROBE_STEPS = 96
SLICE_POINTS = 500_000

log = logging.getLogger("dizuo.capacity.source")
_T = TypeVar("_T")

_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
# Prometheus holds a duration as Go's time.Duration, int64 nanoseconds: a longer one ("duration out of range", some 292
# years) makes it refuse the rule file or query it is in.
MAX_DURATION_MS = (2**63 - 1) // 1_000_000
_TOO_LONG = "longer than a Prometheus duration can be (at most 292y: its int64 nanoseconds)"
# Prometheus' own grammar (model.ParseDuration): units largest first, each at most once. `30m1h` or `15m15m` would
# pass a looser reading here and then be refused by Prometheus in the rule file `dizuo capacity rules` writes.
_DURATION = re.compile("".join(rf"(?:(?P<{unit}>\d+){unit})?" for unit in _UNIT_MS))


class SourceError(Exception):
    """Prometheus could not be read; the message names the URL, the query and the reason."""


class UnreachableError(SourceError):
    """Prometheus itself did not answer (no connection, no answer in time, not an HTTP or JSON answer, an HTTP error
    without Prometheus' own error answer: a proxy's): every query would fail alike, so a run stops at the first."""


class BadQueryError(SourceError):
    """Prometheus refused a query as not a valid PromQL expression (HTTP 400, ``bad_data``): the selector's fault,
    not the server's."""


class EvaluationError(SourceError):
    """Prometheus parsed a query but failed evaluating it (HTTP 422, ``execution``): an invalid regular expression or
    label name in ``label_replace``, or a join gone many-to-many on the data read. Where there is no data (the
    epoch, see ``check_selectors``) only the expression can be at fault."""


class QueryTooLargeError(SourceError):
    """Prometheus refused a query as too large for its limits: more samples than `--query.max-samples` lets it hold,
    or longer than `--query.timeout`. A range query asked again over shorter spans may pass."""


def refused_as_too_large(answer: object) -> bool:
    """Whether a Prometheus error answer says the query was too large (not wrong): it then loads fewer samples, and
    takes less time, over a shorter span."""
    if not isinstance(answer, dict):
        return False
    return answer.get("errorType") == "timeout" or "too many samples" in str(answer.get("error", ""))


def refused_by(answer: object) -> type[SourceError]:
    """The error a Prometheus error answer stands for: too large, not PromQL, failed in evaluation, or else."""
    kind = answer.get("errorType") if isinstance(answer, dict) else None
    if refused_as_too_large(answer):  # "too many samples" is an `execution` error too, but asks for shorter spans
        return QueryTooLargeError
    return {"bad_data": BadQueryError, "execution": EvaluationError}.get(str(kind), SourceError)


def parse_duration(value: object) -> float:
    """A Prometheus duration (``15m``, ``28d``, ``1h30m``) or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ValueError("must be a duration such as 15m or 28d")
    if isinstance(value, int | float):
        if value <= 0 or not math.isfinite(value):
            raise ValueError("must be a positive duration")
        if value * 1000 > MAX_DURATION_MS:
            raise ValueError(_TOO_LONG)
        return float(value)
    if not isinstance(value, str) or not value:
        raise ValueError("must be a duration such as 15m or 28d")
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError("not a Prometheus duration: units y w d h m s ms, largest first, each once (e.g. 15m, 1h30m)")
    total = sum(int(count) * _UNIT_MS[unit] for unit, count in match.groupdict().items() if count is not None)
    if total <= 0:
        raise ValueError("must be a positive duration")
    if total > MAX_DURATION_MS:
        raise ValueError(_TOO_LONG)
    return total / 1000


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _label_name(name: str) -> str:
    # Prometheus' label names (2.x; 3.x takes others only quoted): the owner label goes into PromQL as written, and a
    # volume label misspelt with a dash or a space is carried by no series, merging every volume into one.
    if not _LABEL_NAME.fullmatch(name):
        raise ValueError("not a Prometheus label name: letters, digits and _, not starting with a digit")
    return name


_LABEL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What reports a volume now where its selector has no `reporting`: the scrape targets up (scraped, and answering).
_TARGETS_UP = "min by (job, instance) (up) == 1"
LabelName = Annotated[str, AfterValidator(_label_name)]
Kind = Literal["pvc", "filesystem", "ceph_pool", "bucket"]


class Selector(BaseModel):
    """One kind of storage: how to read its used and capacity bytes, and how to label it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    kind: Kind
    used: str = Field(min_length=1, description="PromQL: bytes in use, one series per volume")
    capacity: str = Field(min_length=1, description="PromQL: bytes the volume holds when full")
    volume: tuple[LabelName, ...] = Field(
        min_length=1, description="Labels naming one volume, joined with '/' (those a series lacks left out)"
    )
    owner_label: LabelName | None = Field(
        default=None, description="Label whose value is a system, department or dataset code"
    )
    pool_label: LabelName | None = Field(default=None, description="Label whose value is a storage pool name")
    pool: str | None = Field(default=None, description="Storage pool of every series of this selector")
    written: str | None = Field(
        default=None,
        description="PromQL: bytes written to the volume in the step before each sample, one series per volume with "
        "the volume labels; $step stands for the query's step, $range for twice it (e.g. increase(counter[$range]))",
    )
    exists: str | None = Field(
        default=None,
        description="PromQL: one series per volume that exists but is not mounted now, with the volume labels (e.g. "
        "kube-state-metrics' claims no running pod mounts): a volume it names is not left out for want of a recent "
        "sample, only not mounted",
    )
    scraped_from: str | None = Field(
        default=None,
        description="PromQL: the series a volume's samples come from, one per volume and scrape target, with the "
        "volume labels and the target's job and instance (e.g. max by (namespace, persistentvolumeclaim, job, "
        "instance) (kubelet_volume_stats_used_bytes)): a volume without a recent sample every target of which has "
        "been scraped since, without it, is gone (deleted), not left out",
    )
    listed: str | None = Field(
        default=None,
        description="PromQL: one series per volume that still exists, mounted or not, with the volume labels (e.g. "
        "kube-state-metrics' claims): a volume it names within max_age is never gone, whatever scraped_from says, "
        "only left out (its exporter is scraped but no longer reports it: a kubelet whose CSI driver fails its volume "
        "stats); a volume it does not name is gone on scraped_from alone, unless it names no volume at all of the "
        "volume's cluster (its `cluster` volume label; without it, of its kind): a lister down proves no deletion",
    )
    reporting: str | None = Field(
        default=None,
        description="PromQL: what reports this kind of storage now, one series each, with some of scraped_from's "
        "labels (e.g. a Ceph cluster whose active manager answers: max by (cluster) (ceph_health_status)): a volume "
        "is gone only when each series scraped_from named for it agrees with one of these on all its labels. Without "
        f"it, the scrape targets up now: {_TARGETS_UP}",
    )


# In a selector's expressions: `$step` is the query's step, `$range` twice it (an `increase(...[$range])` per sample
# overlaps the next one's, so a write between two scrapes at a window's edge is in one of them); `$owners`, right
# after a metric name or its braces, is a label matcher on the owner label that the look for a dataset's last write
# fills in (and every other read leaves empty), so that Prometheus loads a year of those volumes only. An expression
# without it is filtered after it is evaluated.
STEP = "$step"
RANGE = "$range"
OWNERS = "$owners"
_OWNERS_AT = re.compile(r"(\})?\$owners(\{)?")


def duration_text(seconds: float) -> str:
    """A PromQL duration for ``seconds``: whole seconds, or milliseconds where it has a fraction."""
    return f"{round(seconds)}s" if seconds == round(seconds) else f"{round(seconds * 1000)}ms"


def query_text(expression: str, step: float, owner_label: str | None = None, owners: Collection[str] = ()) -> str:
    """A selector's ``expression`` as sent for ``step``: with ``owners``, only the series whose ``owner_label`` is one
    of them (see OWNERS)."""
    text = expression.replace(STEP, duration_text(step)).replace(RANGE, duration_text(2 * step))
    if owner_label is None or not owners:
        return _OWNERS_AT.sub(lambda m: (m.group(1) or "") + (m.group(2) or ""), text)
    if any("`" in v for v in owners):
        raise ValueError(f"a label value with a backtick cannot be matched: {sorted(owners)}")
    regex = "|".join(re.escape(v) for v in sorted(owners))
    if OWNERS not in text:
        return only_owners(text, owner_label, regex)
    matcher = f"{owner_label}=~`{regex}`"

    def fill(m: re.Match[str]) -> str:
        if m.group(1):  # metric{job="x"}$owners
            return f",{matcher}}}" + (m.group(2) or "")
        if m.group(2):  # metric$owners{job="x"}
            return f"{{{matcher},"
        return f"{{{matcher}}}"

    return _OWNERS_AT.sub(fill, text)


class SourceConfig(BaseModel):
    """What to read from Prometheus: history length, resolution and the selectors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lookback: Duration = Field(default=28 * 86400, description="History handed to the forecaster")
    step: Duration = Field(default=900, description="Resolution of the history", validate_default=True)
    timeout: Duration = Field(
        default=60, description="Per HTTP request, the whole answer however slowly it comes; at most 1d"
    )
    max_age: Duration = Field(
        default=3600,
        description="A volume without a sample this recent is not forecast: left out (its exporter stopped), or gone "
        "(deleted: see Selector.scraped_from)",
    )
    write_lookback: Duration = Field(
        default=365 * 86400,
        description="How far back a data-pool dataset's last write is looked for when the history read shows none "
        "(never less than lookback)",
    )
    write_step: Duration = Field(default=3600, description="Resolution of that longer read", validate_default=True)
    selectors: tuple[Selector, ...] = Field(min_length=1)

    @field_validator("timeout")
    @classmethod
    def _timeout_waitable(cls, timeout: float) -> float:
        if timeout > MAX_TIMEOUT:
            raise ValueError(
                "must be at most 1d: a read that takes longer helps no forecast (runs are at most a day apart)"
            )
        return timeout

    @field_validator("step")
    @classmethod
    def _history_within_limit(cls, step: float, info: ValidationInfo) -> float:
        _within_limit("lookback/step", info.data.get("lookback"), step)
        return step

    @field_validator("write_step")
    @classmethod
    def _write_history_within_limit(cls, step: float, info: ValidationInfo) -> float:
        lookbacks = [info.data.get("write_lookback"), info.data.get("lookback")]
        _within_limit("write_lookback/write_step", max((x for x in lookbacks if x is not None), default=None), step)
        return step

    @property
    def write_lookback_seconds(self) -> float:
        """How far back the look for a dataset's last write reaches: at least as far as the history read."""
        return max(self.write_lookback, self.lookback)


def _within_limit(what: str, lookback: float | None, step: float) -> None:
    if lookback is not None and (points := lookback / step) > MAX_POINTS:  # None: lookback itself was refused
        raise ValueError(f"{what} is {points:.0f} points per series; Prometheus allows at most {MAX_POINTS}")


# Filesystems that never fill in a way a forecast helps with (memory-backed, read-only images), and the mounts kubelet
# makes of persistent volumes (`/var/lib/kubelet/pods/<uid>/volumes/...`, CSI's `.../globalmount`): the pvc selector
# reads those, once per claim; as filesystems they would be forecast again, under a new name after each pod restart.
_NOT_FILLING = 'fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|iso9660"'
_FS = f'{_NOT_FILLING},mountpoint!~"/run.*|/var/lib/(docker|containerd|kubelet)/.+"'
# A network share (NFS, SMB, CephFS, GlusterFS) mounted on N nodes is N node filesystems with one `device`
# (`10.0.0.5:/export`): it is one volume, named by its device alone (no `instance`), its series the largest of its
# nodes'. Its scraped_from and listed series keep each node's `instance`, and name the share's volume as every key
# naming it by fewer labels does (see VolumeIdentity): gone once every node that mounted it is scraped without it.
# (ceph-fuse mounts are all device `ceph-fuse`, whichever cluster: they stay one volume per node.)
_SHARES = "nfs4?|cifs|smb3|ceph|glusterfs|fuse.glusterfs|lustre"
_LOCAL_FS = f'{_FS},fstype!~"{_SHARES}"'
_SHARE_FS = f'{_FS},fstype=~"{_SHARES}"'


# A kernel CephFS mount's device (its mount source in /proc/self/mountinfo, node_exporter's `device`) in the syntax of
# Linux 5.17 and mount.ceph since Quincy, `<user>@<fsid>.<fs_name>=/<path>` (the monitors go in the mon_addr option),
# names the Ceph user a node mounts as, one per node where each has its own cephx key: the share is keyed by the
# filesystem and path, `<fsid>.<fs_name>=/<path>`. The old syntax, `<mon>,<mon>:/<path>`, names no filesystem, only the
# monitors a node listed: mounts listing other monitors stay apart, as two clusters' `:/` must.
_CEPH_USER = "[^@/=]*@([^@/=]+=/.*)"
# The steps of _by_device: a share's device for its mountpoint, then a CephFS one's without its user.
_DEVICE_KEY = '"mountpoint", "$1", "device", "(.+)"'
_CEPH_DEVICE_KEY = f'"mountpoint", "$1", "device", "{_CEPH_USER}"'


def _by_device(expression: str) -> str:
    """``expression``'s series with the share's device for mountpoint (a CephFS one's without its user): one key for
    every node mounting it."""
    return f"label_replace(label_replace({expression}, {_DEVICE_KEY}), {_CEPH_DEVICE_KEY})"


def _filesystems(metric: str) -> str:
    """``metric`` of each local filesystem, and of each network share once (the largest of its nodes')."""
    return f"{metric.format(_LOCAL_FS)} or max by (mountpoint) ({_by_device(metric.format(_SHARE_FS))})"


# Pool ids start at 1 in every Ceph cluster, and every cluster has a `.mgr` pool: the name is joined from the same
# scrape (job, instance) and the cluster label ceph-mixin uses where there is one, or two clusters in one Prometheus
# make the join many-to-many and the query fails. `max by` then folds a manager failover (a new instance) into one
# series per pool: per (cluster, name) where the scrape carries ceph-mixin's `cluster` label, so that one cluster
# scraped by two jobs is one pool, not two; per (job, name) where it does not, the scrape job being all that tells
# two clusters apart. Such a pool is named `job:<job>` (a job may share its name with another cluster's label: `ceph`
# is Ceph's default cluster name), and left out where the same manager (instance) is also scraped with the label.
_CEPH_POOL = ("cluster", "name")
_CEPH_CLUSTER = '{cluster!=""}'
_CEPH_NO_CLUSTER = '{cluster=""}'


def _ceph(template: str) -> str:
    """One series per Ceph pool of ``template``, an expression over ceph_pool_* metrics with ``$sel`` after each
    metric name (their label matchers go there), labelled (cluster, name)."""

    def joined(matcher: str) -> str:
        join = f"* on (cluster, job, instance, pool_id) group_left (name) ceph_pool_metadata{matcher}"
        return f"{template.replace('$sel', matcher)} {join}"

    labelled = f"max by (cluster, name) ({joined(_CEPH_CLUSTER)})"
    unlabelled = f"({joined(_CEPH_NO_CLUSTER)}) unless on (instance, pool_id) ceph_pool_stored{_CEPH_CLUSTER}"
    by_job = f'label_replace(max by (job, name) ({unlabelled}), "cluster", "job:$1", "job", "(.*)")'
    return f"{labelled} or max by (cluster, name) ({by_job})"


# The manager that reported each pool, the pool named as _ceph names it: the active ceph-mgr exports
# ceph_pool_metadata for every pool its cluster has, so a pool its cluster's active manager no longer names was
# deleted (see _CEPH_REPORTING).
_CEPH_SCRAPED_FROM = (
    f"max by (cluster, name, job, instance) (ceph_pool_metadata{_CEPH_CLUSTER}) or "
    f"label_replace(max by (job, instance, name) (ceph_pool_metadata{_CEPH_NO_CLUSTER} "
    f"unless on (instance, pool_id) ceph_pool_stored{_CEPH_CLUSTER}), "
    '"cluster", "job:$1", "job", "(.*)")'
)
# The Ceph clusters (named as _ceph names them) whose active manager answers now: only the active ceph-mgr exports
# any metric, ceph_health_status among them. A failover moves the pools to the new active manager's instance; the
# old one, a standby now, answers with no metrics at all under ceph-mgr's default standby_behaviour and stays `up`:
# were the new active one not scraped (down: ceph-mixin's CephMgrPrometheusModuleInactive), a manager `up` would have
# every pool read as deleted. A cluster none of whose managers reports is not read, and its pools are left out. By
# cluster, not instance: a pool deleted before a failover is still gone after it.
_CEPH_REPORTING = (
    f"max by (cluster) (ceph_health_status{_CEPH_CLUSTER}) or "
    f'label_replace(max by (job) (ceph_health_status{_CEPH_NO_CLUSTER}), "cluster", "job:$1", "job", "(.*)")'
)


# The MinIO servers exporting bucket usage now. MinIO's v2 metrics (`/minio/v2/metrics/bucket`; `/cluster` before
# bucket usage moved there) read it from the data usage its scanner last saved (minio/minio cmd/metrics-v2.go,
# getBucketUsageMetrics: loadDataUsageFromBackend) and export none of it while the object layer is not up (a server
# restarting answers while it waits for its drives and peers), while the saved usage cannot be read, or before the
# scanner first saved any (`dataUsageInfo.LastUpdate.IsZero()`: a new deployment): such a server is `up` and names no
# bucket, but deleted none. Whenever it exports bucket usage it exports its last scan activity beside it, from the same
# read: `minio_bucket_usage_last_activity_nano_seconds` on `/bucket`, `minio_usage_last_activity_nano_seconds` on
# `/cluster` (older MinIO's getBucketUsageMetrics there, getClusterUsageMetrics since, which reads the usage alike).
# `/bucket` names only the first 100 buckets by name (v2MetricsMaxBuckets): a new bucket whose name sorts first pushes
# the last one out, so a server naming 100 buckets proves no deletion. No per-bucket series comes without the usage
# (the quota and replication series are read in the same loop over the usage's buckets; traffic names only buckets
# requested since the server started), so the bucket selector has no `listed`.
# MinIO's v3 metrics (`/minio/metrics/v3/cluster/usage/buckets`, or a parent path: `/cluster/usage`, `/cluster`) export
# the same saved usage under new names (minio/minio cmd/metrics-v3-cluster-usage.go, loadClusterUsageBucketMetrics:
# `minio_cluster_usage_buckets_total_bytes` and `..._quota_total_bytes` by `bucket`, a quota only where one is set),
# with none of it when the usage cannot be read or was never saved, and
# `minio_cluster_usage_buckets_since_last_update_seconds` (no `bucket` label) from the same read whenever there is any:
# so it says a v3 server reports, as the last activity says for v2. v3 names every bucket of the usage, no first 100,
# but leaves out of a scrape a bucket whose quota configuration it fails to read (`continue`), so a server naming some
# buckets proves no deletion by itself. Its own count of the usage's buckets does:
# `minio_cluster_usage_objects_buckets_count` (same file, loadClusterUsageObjectMetrics, on
# `/minio/metrics/v3/cluster/usage/objects`: one per bucket of the usage, none skipped), read from the same cached usage
# (cmd/metrics-v3-cache.go, newDataUsageInfoCache, shared by both paths). A v3 server proves a deletion only while it
# names as many buckets as it counts (or counts none: its last bucket deleted); one that leaves some out proves none,
# and its buckets without a sample are left out, not gone. So scrape `/minio/metrics/v3/cluster/usage` (both paths) in
# one job: a server whose count is not scraped beside its buckets proves no deletion either. (MinIO releases where the
# buckets path is a per-bucket group, cmd/metrics-v3.go's NewBucketMetricsGroup, answer it 404 without `/bucket/...`: no
# bucket read, and none deleted.)
_MINIO_REPORTING = (
    "(max by (job, instance) (minio_bucket_usage_last_activity_nano_seconds or minio_usage_last_activity_nano_seconds) "
    "unless on (job, instance) (count by (job, instance) (minio_bucket_usage_total_bytes) >= 100)) "
    "or (max by (job, instance) (minio_cluster_usage_buckets_since_last_update_seconds) "
    "and on (job, instance) (max by (job, instance) (minio_cluster_usage_objects_buckets_count) "
    "== on (job, instance) count by (job, instance) (minio_cluster_usage_buckets_total_bytes) "
    "or max by (job, instance) (minio_cluster_usage_objects_buckets_count) == 0))"
)

# Bytes written to each claim's Ceph RBD image: kubelet counts none, ceph-mgr counts them per image (with
# `mgr/prometheus/rbd_stats_pools` set), and kube-state-metrics says which image backs which claim. ceph-csi names
# an image `csi-vol-<uuid>` (its default volumeNamePrefix), the uuid ending the PV's volume handle; its driver is
# `rbd.csi.ceph.com`, or `<namespace>.rbd.csi.ceph.com` under Rook. Without those metrics the query returns nothing
# and a claim's freshness rests on its growth alone, as it does when Prometheus refuses the query (see _read).
# PV and claim names are per Kubernetes cluster, so they are joined within the `cluster` kube-state-metrics' series
# carry (see the pvc selector); the image, a uuid, is one in any Ceph cluster, whose own `cluster` label is dropped.
_RBD_IMAGE_OF_PV = (
    "label_replace(max by (cluster, persistentvolume, csi_volume_handle) "
    "(kube_persistentvolume_info{csi_driver=~`(.+\\.)?rbd\\.csi\\.ceph\\.com`}), "
    '"image", "csi-vol-$1", "csi_volume_handle", `.*-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})`)'
)
_PV_OF_CLAIM = (
    "label_replace(max by (cluster, namespace, persistentvolumeclaim, volumename) "
    '(kube_persistentvolumeclaim_info$owners), "persistentvolume", "$1", "volumename", "(.+)")'
)
_RBD_WRITTEN = (
    "sum by (cluster, namespace, persistentvolumeclaim) (max by (cluster, persistentvolume) "
    f"(max by (image) (increase(ceph_rbd_write_bytes[$range])) * on (image) group_right () {_RBD_IMAGE_OF_PV}) "
    f"* on (cluster, persistentvolume) group_right () {_PV_OF_CLAIM})"
)

# The claims that exist (kube-state-metrics) less those a running pod mounts (a pod's claims joined with its phase).
_CLAIMS_NO_RUNNING_POD_MOUNTS = (
    "max by (cluster, namespace, persistentvolumeclaim) (kube_persistentvolumeclaim_info$owners) "
    "unless on (cluster, namespace, persistentvolumeclaim) "
    "(kube_pod_spec_volumes_persistentvolumeclaims_info * on (cluster, namespace, pod) group_left () "
    '(max by (cluster, namespace, pod) (kube_pod_status_phase{phase="Running"}) == 1))'
)

DEFAULT_SELECTORS: tuple[Selector, ...] = (
    # kubelet reports each mounted PVC from the node it runs on; `max by` folds a volume seen by two
    # kubelets during a reschedule into one series. Namespaces and claim names repeat across Kubernetes clusters
    # (`monitoring/prometheus-db` in each): where the series carry kubernetes-mixin's `cluster` label a claim is one
    # volume per cluster, `<cluster>/<namespace>/<claim>`, and `<namespace>/<claim>` where they do not.
    Selector(
        kind="pvc",
        used="max by (cluster, namespace, persistentvolumeclaim) (kubelet_volume_stats_used_bytes$owners)",
        capacity="max by (cluster, namespace, persistentvolumeclaim) (kubelet_volume_stats_capacity_bytes$owners)",
        volume=("cluster", "namespace", "persistentvolumeclaim"),
        owner_label="namespace",
        written=_RBD_WRITTEN,
        # The kubelet that reported a claim last: scraped since without it, the claim is deleted (a claim moved to
        # another node is sampled there, and one no pod mounts is in `exists`).
        scraped_from="max by (cluster, namespace, persistentvolumeclaim, job, instance) "
        "(kubelet_volume_stats_used_bytes$owners)",
        # A kubelet scraped since without a claim is no proof it was deleted: kubelet leaves out a mounted claim
        # whose CSI driver fails its volume stats. A claim kube-state-metrics still lists is there: left out, so that
        # DizuoCapacityVolumesLeftOut says it is no longer watched while it may be filling.
        listed="max by (cluster, namespace, persistentvolumeclaim) (kube_persistentvolumeclaim_info$owners)",
        # kubelet reports a claim only while a pod mounts it; kube-state-metrics reports every claim there is. A
        # claim no pod mounts now (one only its nightly loader mounts) is then not mounted, not deleted. A claim a
        # running pod mounts is never "not mounted": without a sample its kubelet is not read (a node down, a scrape
        # failing), and it is left out, so that DizuoCapacityVolumesLeftOut says its forecast is gone.
        exists=_CLAIMS_NO_RUNNING_POD_MOUNTS,
    ),
    # "Full" for a non-root writer means avail = 0, so used = size - avail (reserved blocks count as used).
    Selector(
        kind="filesystem",
        used=_filesystems("(node_filesystem_size_bytes{{{0}}} - node_filesystem_avail_bytes{{{0}}})"),
        capacity=_filesystems("node_filesystem_size_bytes{{{0}}}"),
        volume=("instance", "mountpoint"),
        # The node's exporter scraped since without the mountpoint: unmounted for good, not a node down.
        scraped_from="max by (instance, mountpoint, job) "
        f"(node_filesystem_size_bytes{{{_LOCAL_FS}}} or {_by_device(f'node_filesystem_size_bytes{{{_SHARE_FS}}}')})",
        # node_exporter names every mount in node_filesystem_device_error, also one whose statfs fails or hangs (an
        # NFS server gone), whose sizes it then leaves out: still mounted, left out, not gone.
        listed="max by (instance, mountpoint) (node_filesystem_device_error{"
        f"{_LOCAL_FS}}} or {_by_device(f'node_filesystem_device_error{{{_SHARE_FS}}}')})",
    ),
    # ceph-mgr exports pools by id; the name comes from ceph_pool_metadata. max_avail already
    # accounts for replication and the full ratio, so stored + max_avail is what the pool can hold.
    Selector(
        kind="ceph_pool",
        used=_ceph("ceph_pool_stored$sel"),
        capacity=_ceph("(ceph_pool_stored$sel + ceph_pool_max_avail$sel)"),
        volume=_CEPH_POOL,
        pool_label="name",
        scraped_from=_CEPH_SCRAPED_FROM,
        reporting=_CEPH_REPORTING,
    ),
    # MinIO bucket metrics, v2 or v3 (see _MINIO_REPORTING; scrape one of them per MinIO: both at once are one bucket
    # read twice, which the log names); buckets without a quota have no capacity series and are skipped. Every MinIO
    # server counts the S3 bytes its clients send into a bucket: a reload of the same bytes is a write, not a stale
    # dataset (v3 exports that count only on `/minio/metrics/v3/bucket/api/<bucket>`, a path per bucket: minio/minio
    # cmd/metrics-v3-handler.go).
    Selector(
        kind="bucket",
        used="minio_bucket_usage_total_bytes$owners or minio_cluster_usage_buckets_total_bytes$owners",
        capacity="minio_bucket_quota_total_bytes$owners or minio_cluster_usage_buckets_quota_total_bytes$owners",
        volume=("bucket",),
        owner_label="bucket",
        written="sum by (bucket) (increase(minio_bucket_traffic_received_bytes$owners[$range])) "
        "or sum by (bucket) (increase(minio_bucket_api_traffic_received_bytes$owners[$range]))",
        # Every MinIO server that reported the bucket scraped since, exporting bucket usage, without it: it was deleted.
        scraped_from="max by (bucket, job, instance) "
        "(minio_bucket_usage_total_bytes$owners or minio_cluster_usage_buckets_total_bytes$owners)",
        reporting=_MINIO_REPORTING,
    ),
)

DEFAULT_CONFIG = SourceConfig(selectors=DEFAULT_SELECTORS)
DEFAULT_SELECTOR_OF: Mapping[str, Selector] = {selector.kind: selector for selector in DEFAULT_SELECTORS}


def _as_written(query: str) -> str:
    """``query`` without whitespace, its strings in double quotes: one text however a copy spaces or quotes it."""
    return re.sub(r"\s+", "", query).replace("'", '"').replace("`", '"')


def _share_read(query: str) -> str:
    """What a query of an older copy of monitoring/capacity-sources.yaml reads a network share as ('' where it is no
    such query): one carrying the file's own filesystem matcher (_NOT_FILLING, in every version of it), reading shares
    (not excluding them as the local-filesystem half of the default does) without the steps of _by_device."""
    text = _as_written(query)
    if "node_filesystem_" not in text or _as_written(_NOT_FILLING) not in text:
        return ""  # a city's own query, not a copy of the file's: it keys shares as it means to
    if _as_written(_DEVICE_KEY) not in text:
        reads_shares = _as_written(f'fstype!~"{_SHARES}"') not in text
        return "each network share once per node that mounts it" if reads_shares else ""
    if _as_written(_CEPH_DEVICE_KEY) not in text:
        return "a kernel CephFS share once per Ceph user its nodes mount it as"
    return ""


def older_share_reads(config: SourceConfig) -> list[str]:
    """Where the filesystem selectors of ``config`` are an older copy of monitoring/capacity-sources.yaml's, reading
    network shares more than once, each ``selectors[<i>] (<fields>) reads <what>`` (see _share_read)."""
    older = []
    for index, selector in enumerate(config.selectors):
        if selector.kind != "filesystem":
            continue
        fields = ("used", "capacity", "scraped_from", "listed")
        reads = {f: _share_read(q) for f in fields if (q := getattr(selector, f))}
        for instead in dict.fromkeys(r for r in reads.values() if r):
            older.append(
                f"selectors[{index}] ({', '.join(f for f, r in reads.items() if r == instead)}) reads {instead}"
            )
    return older


def id_labels(selector: Selector, volume: str) -> dict[str, str]:
    """The volume labels of ``selector`` a volume id names, as ``Ownership.labels`` joins them (by ``/``, those a
    series lacks left out: ``<namespace>/<claim>`` without a cluster), for the owner rule to read them as a series'.

    The parts name the last labels, a single one the owner label where the selector has one (``pvc:sjj-tyrz`` is
    namespace sjj-tyrz's, as a code). Of the labels, only a cluster (any text: ``job:<job>``) and a mountpoint hold
    ``/``: a cluster is what comes before the last parts (``ceph_pool:a/b/xc-ceph`` is pool xc-ceph of cluster
    ``a/b``, as ``Ownership.names_ceph_pool`` reads it), a node filesystem's mountpoint the rest after its instance
    (``yl-mon-01:9100//var``). A share's id, its device (``10.0.0.5:/export``), is not split: its series' mountpoint
    is the whole device."""
    names = selector.volume
    if names[-1] == "mountpoint":
        instance, _, mountpoint = volume.partition("/")
        node_filesystem = len(names) > 1 and mountpoint.startswith("/")
        return {names[0]: instance, "mountpoint": mountpoint} if node_filesystem else {"mountpoint": volume}
    parts = volume.rsplit("/", len(names) - 1)
    if len(parts) == 1 and selector.owner_label is not None:
        return {selector.owner_label: volume}
    return dict(zip(names[len(names) - len(parts) :], parts, strict=True))


def load_config(path: Path | None) -> SourceConfig:
    """The selectors of ``path`` (YAML), or the defaults when ``path`` is None.

    Raises :class:`ConfigError` naming the file, the key path and the bad value.
    """
    if path is None:
        return DEFAULT_CONFIG
    return load_model(path, SourceConfig)


# ------------------------------------------------------------------------------------ ownership


@dataclass(frozen=True, slots=True)
class Owner:
    """Who a volume belongs to, as far as the declaration knows."""

    department: str = ""
    system: str = ""
    pool: str = ""
    dataset: str = ""  # the data-pool dataset the volume holds
    cluster: str = ""  # the Kubernetes cluster it lives in; empty: any (a department's code, a dataset namespace)


@dataclass(frozen=True, slots=True)
class Ownership:
    """Lookup tables from the declaration: codes and pool names -> owner."""

    by_code: Mapping[str, Owner]
    pools: frozenset[str]
    # Each name a declared cluster goes by (a renamed one's former name too), to its name (Declaration.cluster_names).
    clusters: Mapping[str, str] = field(default_factory=dict)
    # The declared pools of Ceph backends (ceph-rbd, cephfs), whose usage is a ceph_pool series, each to its Ceph
    # cluster's fsid (ceph_cluster_id; '' where not declared).
    ceph_pools: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_declaration(cls, declaration: Declaration | None) -> Ownership:
        """Namespaces are named after system or department codes; buckets after datasets (``<prefix>-dp-<dataset>``, as
        the datapool stack creates them, or the bare code). The data pool's
        claims live in their owner's dataset namespace (``dp-<owner>``), named after the dataset: that namespace is
        the owner's, and ``<namespace>/<claim>`` the dataset's."""
        if declaration is None:
            return cls(by_code={}, pools=frozenset())
        by_code: dict[str, Owner] = {}
        pool_cluster = {p.name: c.name for c in declaration.clusters for p in c.storage_pools}
        for dataset in declaration.datasets:
            cluster = pool_cluster.get(dataset.storage_pool, "")
            owner = Owner(department=dataset.owner, pool=dataset.storage_pool, dataset=dataset.code, cluster=cluster)
            by_code[dataset.code] = owner
            # Its bucket, as the datapool stack names it.
            by_code[resource_name(declaration.city.prefix, "dp", dataset.code)] = owner
            by_code[dataset_namespace(dataset.owner)] = Owner(department=dataset.owner)
            by_code[f"{dataset_namespace(dataset.owner)}/{dataset.code}"] = owner
        for department in declaration.departments:
            by_code[department.code] = Owner(department=department.code)
        for system in declaration.systems:
            by_code[system.code] = Owner(
                department=system.department, system=system.code, pool=system.storage_pool or "", cluster=system.cluster
            )
        return cls(
            by_code=by_code,
            pools=frozenset(p.name for p in declaration.storage_pools()),
            clusters=declaration.cluster_names(),
            ceph_pools={
                p.name: p.ceph_cluster_id or "" for p in declaration.storage_pools() if p.backend in CEPH_BACKENDS
            },
        )

    def former_names(self) -> dict[str, str]:
        """Each renamed cluster's former name, to the name it goes by now."""
        return {name: now for name, now in self.clusters.items() if name != now}

    def dataset_codes(self, datasets: Collection[str]) -> frozenset[str]:
        """The owner-label values (bucket names, dataset namespaces, bare codes) a volume of ``datasets`` can carry."""
        return frozenset(key.partition("/")[0] for key, owner in self.by_code.items() if owner.dataset in datasets)

    def owner(self, code: str, claim: str = "", cluster: str = "") -> Owner:
        """The owner of a system, department or dataset code, or of the data-pool claim ``<code>/<claim>`` (a
        namespace and a claim name together say which dataset it holds); empty when the declaration does not know,
        or when ``cluster`` is a declared cluster other than the one the system or dataset is declared in (a
        namespace of the same name there is not theirs). A renamed cluster's former name is that cluster."""
        owner = self.by_code.get(f"{code}/{claim}") or self.by_code.get(code, Owner())
        if cluster in self.clusters and owner.cluster and owner.cluster != self.clusters[cluster]:
            return Owner()
        return owner

    def volume_owner(self, volume: str) -> Owner:
        """The owner of a volume id of no kind (see ``id_kind``): ``<code>`` or ``<namespace>/<claim>``."""
        code, _, claim = volume.partition("/")
        return self.owner(code, claim)

    def id_kind(self, series: str) -> tuple[str, str]:
        """The kind ('' where it says none) and volume of a CSV series id: ``<kind>:<volume>``, or a volume as the
        exporter names them without its kind, whole (``yl-mon-01:9100//var`` is a filesystem whose instance has a port,
        not a kind). Without its kind, a Ceph pool's id is still that pool's own usage (see ``names_ceph_pool``), not
        a volume of no one's or one more inside the pool, and ``<cluster>/<namespace>/<claim>`` naming a declared
        cluster (either name of a renamed one) is a claim: of a cluster not declared, it is of no kind, since a
        share's id may have three parts too (``10.0.0.5:/export/data``), and a claim's needs its ``pvc:``."""
        kind, _, name = series.partition(":")
        if kind in get_args(Kind):
            return kind, name
        if self.names_ceph_pool(series):
            return "ceph_pool", series
        parts = series.split("/")
        return ("pvc" if len(parts) == 3 and parts[0] in self.clusters and all(parts) else ""), series

    def names_ceph_pool(self, volume: str) -> bool:
        """Whether a volume id without its kind (a CSV's) is a declared Ceph pool's as the exporter names a pool's own
        series, ``<pool>`` or ``<cluster>/<pool>`` where the cluster is one its series may carry (a declared cluster's
        name, current or former, the pool's ``ceph_cluster_id``, or ``job:<job>``: ``somens/xc-ceph`` is not), and
        the declaration owns nothing else by it (``sjj-tyrz/xc-ceph`` is a claim of system sjj-tyrz)."""
        labels = id_labels(DEFAULT_SELECTOR_OF["ceph_pool"], volume)
        cluster, pool = labels.get("cluster", ""), labels["name"]
        if pool not in self.ceph_pools or "/" in cluster:
            return False
        named_by = cluster in ("", self.ceph_pools[pool]) or cluster in self.clusters or cluster.startswith("job:")
        return named_by and self.volume_owner(volume) == Owner()

    @staticmethod
    def volume_labels(kind: str, volume: str, pool: str, owner: Owner) -> dict[str, str]:
        """The forecast labels (see ``LABELS``) of a volume, and ``dataset`` where it holds one: not a label of the
        volume metrics, the dataset freshness metrics are keyed by it."""
        labels = {"kind": kind, "volume": volume, "pool": pool, "department": owner.department, "system": owner.system}
        return labels | ({"dataset": owner.dataset} if owner.dataset else {})

    def labels(self, selector: Selector, series_labels: Mapping[str, str]) -> dict[str, str]:
        """The forecast labels (see ``LABELS``) of one series read by ``selector``."""
        owner = Owner()
        if selector.owner_label is not None:
            code = series_labels.get(selector.owner_label, "")
            owner = self.owner(
                code, series_labels.get("persistentvolumeclaim", ""), cluster=series_labels.get("cluster", "")
            )
        pool = owner.pool
        if selector.pool is not None:
            pool = selector.pool
        if selector.pool_label is not None and series_labels.get(selector.pool_label):
            # A pool the declaration does not list keeps its own name: it is still one bounded label.
            pool = series_labels[selector.pool_label]
        # Labels a series does not carry (no `cluster` where one Ceph cluster is scraped) are left out.
        volume = "/".join(v for label in selector.volume if (v := series_labels.get(label, "")))
        return self.volume_labels(selector.kind, volume, pool, owner)


# ------------------------------------------------------------------------------------ HTTP API

Fetch = Callable[[str, Mapping[str, str], float, Mapping[str, str]], object]


def http_post_json(url: str, form: Mapping[str, str], timeout: float, headers: Mapping[str, str]) -> object:
    """POST a form and decode the JSON answer (Prometheus answers errors as JSON too), all of it within ``timeout``
    seconds: a server sending its answer a byte at a time is given up at that deadline, not waited for."""
    body = urllib.parse.urlencode(form).encode()
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's Prometheus, http(s) only
        url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    for name, value in headers.items():
        # Not carried along a redirect (none is followed, below): credentials go to the Prometheus named only.
        request.add_unredirected_header(name, value)
    try:
        with open_by(request, timeout) as response:
            return json.load(response)
    except TimeoutError:
        raise UnreachableError(f"timed out after {timeout:g} s") from None
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            # Followed, a 301/302/303 would be a GET without the query, and a 308 is not followed by urllib at all.
            location = urllib.parse.urljoin(url, exc.headers.get("Location", ""))
            raise UnreachableError(
                f"HTTP {exc.code}: Prometheus redirects to {redacted(location)}: use that URL "
                "(--prometheus-url, without the /api/v1/... part)"
            ) from None
        try:
            answer = json.load(exc)
        except TimeoutError:
            raise UnreachableError(f"HTTP {exc.code} {exc.reason}, then timed out after {timeout:g} s") from None
        except (ValueError, OSError):
            raise UnreachableError(f"HTTP {exc.code} {exc.reason}") from None
        reason = answer.get("error", answer) if isinstance(answer, dict) else answer
        raise refused_by(answer)(f"HTTP {exc.code}: {reason}") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise UnreachableError(f"timed out after {timeout:g} s") from None
        raise UnreachableError(f"cannot connect: {exc.reason}") from None
    except OSError as exc:
        raise UnreachableError(f"connection failed: {exc}") from None
    except http.client.HTTPException as exc:  # something that is not an HTTP server answered on that port
        raise UnreachableError(f"not an HTTP answer ({type(exc).__name__}: {exc})") from None
    except ValueError as exc:
        raise UnreachableError(f"answer is not JSON: {exc}") from None


def redacted(url: str) -> str:
    """``url`` with everything between the scheme and its last ``@`` hidden: safe to print whatever its shape."""
    if "@" not in url:
        return url
    scheme, sep, rest = url.partition("://")
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}" if sep else f"***@{url.rpartition('@')[2]}"


def split_credentials(url: str) -> tuple[str, dict[str, str]]:
    """``http://user:password@host:9090`` -> the URL without them (safe to print and log) and the basic-auth
    header Prometheus' web config or a reverse proxy in front of it asks for.

    Raises :class:`ConfigError` (showing the URL redacted) when an ``@`` is left that is not the end of the
    credentials: a password with an unencoded ``/``, ``?`` or ``#`` would otherwise be read as a host and a path.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        if "@" in url:
            raise ConfigError(
                "--prometheus-url: user and password must come right after the scheme, with / ? # @ in them "
                f"percent-encoded (%2F %3F %23 %40): {show_value(redacted(url))}"
            )
        return url, {}
    user = urllib.parse.unquote(parts.username or "")
    password = urllib.parse.unquote(parts.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2])
    return urllib.parse.urlunsplit(bare), {"Authorization": f"Basic {token}"}


@dataclass(frozen=True, slots=True)
class RangeSeries:
    """One series of a range query: its labels, timestamps (unix s) and values."""

    labels: dict[str, str]
    timestamps: np.ndarray[Any, np.dtype[np.int64]]
    values: np.ndarray[Any, np.dtype[np.float64]]


def read_until(reading: Reading) -> str:
    """Where ``reading``'s history ended, for a message saying it found no volume: `` (history read up to <UTC time>,
    ...)``, or nothing for a source not read on a step grid. Prometheus is read up to the last whole `step`, so for that
    long after it began scraping (a new set-up) it gives no volume though the selectors are right."""
    if reading.until is None:
        return ""
    at = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reading.until))
    return f" (history read up to {at}, the last whole step: a series begun since is read from the next step on)"


def range_series(item: object) -> RangeSeries:
    """One series of a range query's answer, ``{"metric": {label: value}, "values": [[unix s, "number"], ...]}``;
    TypeError or ValueError (KeyError, IndexError) when it has another shape."""
    if not isinstance(item, dict) or not isinstance(item.get("metric"), dict) or not isinstance(item["values"], list):
        raise TypeError("not a series with metric labels and values")
    points = item["values"]
    if not all(isinstance(p, list) and len(p) == 2 and isinstance(p[1], str) for p in points):
        raise TypeError('not a list of [timestamp, "value"] pairs')
    stamps = np.fromiter((p[0] for p in points), dtype=np.float64, count=len(points))
    values = np.fromiter((float(p[1]) for p in points), dtype=np.float64, count=len(points))
    labels = {str(k): str(v) for k, v in item["metric"].items()}
    return RangeSeries(labels, stamps.round().astype(np.int64), values)


def within(series: Sequence[RangeSeries], start: float, end: float) -> list[RangeSeries]:
    """``series`` with only their points in [start, end] (all of them, from Prometheus), and those left with none
    dropped: the slices of one query never overlap, whatever answers them."""
    out = []
    for one in series:
        keep = (one.timestamps >= start - 1e-6) & (one.timestamps <= end + 1e-6)
        if keep.all():
            out.append(one)
        elif keep.any():
            out.append(RangeSeries(one.labels, one.timestamps[keep], one.values[keep]))
    return out


def joined_in_time(earlier: Sequence[RangeSeries], later: Sequence[RangeSeries]) -> list[RangeSeries]:
    """The answers of one range query over two spans, ``earlier`` wholly before ``later``, as one: a series (by its
    labels) in both has its points of both, in time order."""
    joined: dict[frozenset[tuple[str, str]], RangeSeries] = {}
    for series in [*earlier, *later]:
        key = frozenset(series.labels.items())
        held = joined.get(key)
        joined[key] = (
            series
            if held is None
            else RangeSeries(
                held.labels,
                np.concatenate([held.timestamps, series.timestamps]),
                np.concatenate([held.values, series.values]),
            )
        )
    return list(joined.values())


class PrometheusSource:
    """Usage histories from one Prometheus server, labelled after the declaration."""

    def __init__(
        self,
        url: str,
        config: SourceConfig = DEFAULT_CONFIG,
        declaration: Declaration | None = None,
        *,
        fetch: Fetch = http_post_json,
        clock: Callable[[], float] = time.time,
        config_path: Path | None = None,
    ) -> None:
        try:
            scheme = urllib.parse.urlsplit(url).scheme
        except ValueError as exc:  # an unclosed `[` of an IPv6 address
            raise ConfigError(f"--prometheus-url: not a URL ({exc}): {show_value(redacted(url))}") from None
        if scheme not in {"http", "https"}:
            raise ConfigError(f"--prometheus-url: must start with http:// or https://: {show_value(redacted(url))}")
        bare, self._headers = split_credentials(url)
        parts = urllib.parse.urlsplit(bare)
        if parts.query or parts.fragment or bare.endswith(("?", "#")):
            # The API paths are appended to the URL: `...:9090/?x=1` would ask `...:9090/?x=1/api/v1/query_range`.
            raise ConfigError(
                f"--prometheus-url: no query string or fragment (? or #), only the server and its path prefix: "
                f"{show_value(bare)}"
            )
        if not parts.hostname:
            raise ConfigError(f"--prometheus-url: names no host: {show_value(bare)}")
        try:
            parts.port  # noqa: B018 - urllib checks the port only when asked
        except ValueError:
            raise ConfigError(f"--prometheus-url: not a valid port: {show_value(bare)}") from None
        if self._headers and parts.scheme == "http":
            log.warning("sending the credentials of --prometheus-url over plain http to %s", parts.hostname)
        self.url = bare.rstrip("/")
        self.config = config
        # Where the selectors come from, for errors and warnings that name one (``<where>: selectors[2].used``).
        self.where = str(config_path) if config_path is not None else "the built-in selectors"
        if older := older_share_reads(config):
            # A copy is still read: its volumes are what the city had, and only its shares are read more than once.
            log.warning(
                # An installed dizuo ships no monitoring/ folder: the file is in the source of this version.
                "%s is an older copy of monitoring/capacity-sources.yaml: %s; to read a share as one volume, copy "
                "into it the filesystem selector of monitoring/capacity-sources.yaml in dizuo %s's source (the "
                "built-in selectors, spelled out; read without --config)",
                self.where,
                "; ".join(older),
                __version__,
            )
        self.ownership = Ownership.from_declaration(declaration)
        self._fetch = fetch
        self._clock = clock
        self._written_failing: set[str] = set()  # selectors whose bytes-written read failed last time (warned once)
        self._said = Said()
        # The scraped_from series at a volume's last sample, by query and time (see _ended).
        self._reported: dict[tuple[str, int], list[RangeSeries]] = {}

    def check_selectors(self) -> None:
        """Ask Prometheus to evaluate each selector expression at one instant where no data can be (the epoch: cheap
        whatever the fleet), so that one it refuses as not valid PromQL, or fails to evaluate there (an invalid regular
        expression in ``label_replace``: no data can be at fault), is named by its file and key path before any run;
        raise :class:`ConfigError` listing each, or :class:`SourceError` when Prometheus cannot be asked."""
        endpoint = f"{self.url}/api/v1/query"
        problems = []
        for index, selector in enumerate(self.config.selectors):
            for key in ("used", "capacity", "written", "exists", "scraped_from", "listed", "reporting"):
                expression = getattr(selector, key)
                if expression is None:
                    continue
                form = {"query": query_text(expression, self.config.step), "time": "0"}
                try:
                    self._fetch(endpoint, form, self.config.timeout, self._headers)
                except (BadQueryError, EvaluationError) as exc:  # at the epoch: the expression's fault
                    problems.append(
                        f"{self.where}: selectors[{index}].{key}: Prometheus refuses it ({exc}): "
                        f"{show_value(expression)}"
                    )
                except SourceError as exc:
                    raise type(exc)(f"{endpoint}: {exc}") from None
        if problems:
            raise ConfigError("\n".join(problems))

    def query_range(self, query: str, start: float, end: float, step: float) -> list[RangeSeries]:
        """Run one range query; raise :class:`SourceError` naming the query on any failure.

        A span longer than PROBE_STEPS steps is asked in slices of time, so that no answer is much larger than
        SLICE_POINTS points, whatever the fleet: the JSON of an answer takes some 9 times its size in memory while it
        is parsed (bench/capacity/answer_memory.py: 2,000 claims over 28 days, 139 MiB, peaked at 1.3 GiB whole and
        0.3 GiB in 8 slices). Its last PROBE_STEPS steps come first, and tell how many series a step holds; the rest
        is asked, newest first, in slices of that many points. Each step of a range query is evaluated on its own,
        so the slices join into exactly the answer the whole would have been. A fleet of a few hundred volumes costs
        one request more than the whole would."""
        steps = math.floor((end - start) / step + 1e-9)  # the answer's points are start + k * step, k = 0..steps
        if steps < PROBE_STEPS:
            return self._query_range_fitting(query, start, end, step)
        first = steps - PROBE_STEPS + 1  # the newest slice: steps first..steps
        held = self._query_range_fitting(query, start + first * step, start + steps * step, step)
        per_step = max(1.0, sum(s.timestamps.size for s in held) / PROBE_STEPS)
        slice_steps = max(PROBE_STEPS, int(SLICE_POINTS / per_step))
        while first > 0:
            lo = max(0, first - slice_steps)
            earlier = self._query_range_fitting(query, start + lo * step, start + (first - 1) * step, step)
            held = joined_in_time(earlier, held)
            first = lo
        return held

    def _query_range_fitting(self, query: str, start: float, end: float, step: float) -> list[RangeSeries]:
        """One range query; one Prometheus refuses as too large (a fleet of thousands of volumes, a year of RBD
        counters) is asked again in two halves of its time span, and so on down to a single step."""
        try:
            return within(self._query_range_once(query, start, end, step), start, end)
        except QueryTooLargeError:
            steps = round((end - start) / step)
            if steps < 1:
                raise
            middle = start + (steps // 2) * step
            log.info("query refused as too large over %gs, asked again in halves: %s", end - start, query)
            return joined_in_time(
                self._query_range_fitting(query, start, middle, step),
                self._query_range_fitting(query, middle + step, end, step),
            )

    def _query_range_once(self, query: str, start: float, end: float, step: float) -> list[RangeSeries]:
        endpoint = f"{self.url}/api/v1/query_range"
        form = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        try:
            answer = self._fetch(endpoint, form, self.config.timeout, self._headers)
        except SourceError as exc:
            raise type(exc)(f"{endpoint} query {query!r}: {exc}") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            reason = answer.get("error", answer) if isinstance(answer, dict) else answer
            raise refused_by(answer)(f"{endpoint} query {query!r}: Prometheus answered {reason!r}")
        data = answer.get("data")
        if not isinstance(data, dict):
            raise SourceError(f"{endpoint} query {query!r}: malformed answer: data is {show_value(data)}")
        if data.get("resultType") != "matrix":
            raise SourceError(f"{endpoint} query {query!r}: expected a matrix, got {data.get('resultType')!r}")
        result = data.get("result")
        if not isinstance(result, list):
            raise SourceError(f"{endpoint} query {query!r}: malformed answer: result is {show_value(result)}")
        out = []
        for item in result:
            try:
                out.append(range_series(item))
            except (TypeError, ValueError, KeyError, IndexError) as exc:
                raise SourceError(
                    f"{endpoint} query {query!r}: malformed answer: {exc}: series {show_value(item)}"
                ) from None
        return out

    def histories(self) -> list[UsageHistory]:
        """Every volume of every selector, as of now, with the declaration's labels; a selector's failed read fails it
        (a one-off report or plan must not leave a kind of storage out without saying so)."""
        return self.read_whole().histories

    def read_whole(self) -> Reading:
        """``read``, where a selector's failed read fails it (see ``histories``): the volumes, and those left out."""
        reading = self.read()
        if reading.failed:
            kind, why = next(iter(reading.failed.items()))
            raise SourceError(f"{kind}: {why}")
        return reading

    def read(self) -> Reading:
        """Every volume of every selector, as of now, with the declaration's labels, and those left out. A selector
        whose read fails (its query refused, timed out) is named in ``failed`` while the others read; when every one
        fails, the read fails."""
        step = self.config.step
        # Align to the step so successive runs ask for the same grid (and Prometheus caches it).
        end = math.floor(self._clock() / step) * step
        start = end - self.config.lookback
        out: list[UsageHistory] = []
        failed: dict[str, str] = {}
        errors: list[SourceError] = []
        existing: set[str] = set()
        exists_unread: dict[str, str] = {}
        ended: set[str] = set()
        for index, selector in enumerate(self.config.selectors):
            try:
                out += self._read(
                    selector, start, end, step, index=index, existing=existing, exists_unread=exists_unread, ended=ended
                )
            except UnreachableError:
                raise
            except SourceError as exc:
                errors.append(exc)
                failed.setdefault(selector.kind, str(exc))
        if len(errors) == len(self.config.selectors):
            raise errors[0] if len(errors) == 1 else SourceError("; ".join(f"{k}: {why}" for k, why in failed.items()))
        # A range query returns every series of the lookback, also those that ended days ago: a deleted PVC,
        # an exporter that stopped. Forecasting on from their last sample would alert on volumes that are
        # gone, or hide that one is no longer watched; they are left out, said so, and counted (the exporter exports
        # how many: DizuoCapacityVolumesLeftOut).
        # A volume its selector's `exists` still names is not gone, only not mounted now: neither forecast nor left
        # out, its history dates its dataset's writes.
        # A volume whose series ended while the exporters that reported it are still scraped was deleted: gone, neither
        # forecast nor left out (else a deleted claim would warn for the 28 days its series stays in the history).
        fresh: list[UsageHistory] = []
        stopped: list[UsageHistory] = []
        unmounted: list[UsageHistory] = []
        deleted: list[UsageHistory] = []
        for history in one_per_volume(out, self._said):
            if history.timestamps[-1] >= end - self.config.max_age:
                fresh.append(history)
            elif history.series in existing:
                unmounted.append(history)
            else:
                (deleted if history.series in ended else stopped).append(history)
        if self._said.anew("deleted", ids := sorted(h.series for h in deleted)):
            log.info(
                "%d volume(s) gone: their series ended while their exporters are still scraped (deleted): %s",
                len(ids),
                ", ".join(ids[:10]) + (", ..." if len(ids) > 10 else ""),
            )
        if self._said.anew("left out", gone := sorted(h.series for h in stopped)):
            log.warning(
                "left out %d volume(s) without a sample in the last %gs (exporter stopped, or deleted where that "
                "cannot be told): %s",
                len(gone),
                self.config.max_age,
                ", ".join(gone[:10]) + (", ..." if len(gone) > 10 else ""),
            )
        # Two selectors of one kind: where one read, the kind's volumes it read are fresh; the kind still counts as
        # failed, so the other's volumes are carried.
        kinds = tuple(dict.fromkeys(s.kind for s in self.config.selectors))
        return Reading(
            fresh,
            stopped,
            kinds=kinds,
            failed=failed,
            unmounted=unmounted,
            gone=deleted,
            exists_unread=exists_unread,
            until=end,
        )

    def _existing(
        self, selector: Selector, end: float, identity: VolumeIdentity, unread: dict[str, str] | None = None
    ) -> set[str]:
        """The series ids of the volumes ``selector.exists`` names within ``max_age`` before ``end`` (see ``_named``;
        none without it, or when Prometheus fails it: those volumes are then left out as before, the log says so
        once, and ``unread`` gets the selector's kind and why, for a reader that must say it: a migration plan would
        not copy them)."""
        if not selector.exists:
            return set()
        named = self._unless_failing(
            selector,
            "exists",
            "which volumes exist not read, those unsampled are left out",
            partial(self._named, selector, selector.exists, end, identity),
            failures=unread,
        )
        return named if named is not None else set()

    def _unless_failing(
        self,
        selector: Selector,
        key: str,
        consequence: str,
        ask: Callable[[], _T],
        failures: dict[str, str] | None = None,
    ) -> _T | None:
        """``ask()``, or None when Prometheus fails it (a Prometheus not answering at all fails the run): then
        ``<kind>: <consequence>: <why>`` is logged, once while ``selector``'s ``key`` query keeps failing, and
        ``failures`` (when given) gets the kind and why."""
        try:
            answer = ask()
        except UnreachableError:
            raise
        except SourceError as exc:
            if self._said.anew(f"{key} failing", [selector.kind]):
                log.warning("%s: %s: %s", selector.kind, consequence, exc)
            if failures is not None:
                failures.setdefault(selector.kind, str(exc))
            return None
        self._said.anew(f"{key} failing", [])
        return answer

    def _named(self, selector: Selector, expression: str, end: float, identity: VolumeIdentity) -> set[str]:
        """The series ids of the volumes ``expression`` (a selector's ``exists`` or ``listed``) names within
        ``max_age`` before ``end``, each named as ``identity`` (the volumes read) knows it; raise
        :class:`SourceError` when Prometheus fails it."""
        return {volume_id(selector, key) for key in self._named_keys(selector, expression, end, identity)}

    def _named_keys(
        self, selector: Selector, expression: str, end: float, identity: VolumeIdentity
    ) -> set[tuple[str, ...]]:
        """The volume keys, as ``identity`` knows them, of the volumes ``expression`` names within ``max_age`` before
        ``end``; raise :class:`SourceError` when Prometheus fails it."""
        step = self.config.step
        series = self.query_range(query_text(expression, step), end - self.config.max_age, end, step)
        # Named by the volume labels of the series read, not its own: kube-state-metrics' series may carry a
        # `cluster` label kubelet's lack, or the reverse (a relabelling on one scrape job only).
        return {identity(volume_key(selector, s)) for s in series if any(volume_key(selector, s))}

    def write_histories(self, datasets: Collection[str]) -> list[UsageHistory]:
        """The volumes holding ``datasets``, read ``write_lookback`` back at ``write_step``: where the history read
        shows no write of a dataset, its last write is looked for here (a dataset refreshed monthly, alerting at 45
        days, is older than the 28 days the forecaster reads). Only those volumes are read: each selector that can name
        a dataset (``owner_label``) is asked for the owner-label values of theirs (see OWNERS)."""
        codes = self.ownership.dataset_codes(datasets)
        if not codes:
            return []
        step = self.config.write_step
        end = math.floor(self._clock() / step) * step
        start = end - self.config.write_lookback_seconds
        out: list[UsageHistory] = []
        for selector in self.config.selectors:
            if selector.owner_label is not None:
                read = self._read(selector, start, end, step, codes)
                out += [h for h in read if h.labels.get("dataset") in datasets]
        return one_per_volume(out)

    def _read(
        self,
        selector: Selector,
        start: float,
        end: float,
        step: float,
        owners: Collection[str] = (),
        *,
        index: int | None = None,
        existing: set[str] | None = None,
        exists_unread: dict[str, str] | None = None,
        ended: set[str] | None = None,
    ) -> list[UsageHistory]:
        """One selector's volumes (with ``owners``, only those whose owner label is one of them; see OWNERS): used,
        capacity and, where it counts them, bytes written, joined. Bytes written only add to what growth says: when
        their read fails (a join of three exporters can be refused as too large), the volumes are read without them.
        With ``index`` (its place in the config), a volume it returns more than once at a time is warned of; with
        ``existing``, the ids of the volumes its ``exists`` names are added to it (and to ``exists_unread`` its kind,
        when that query fails: see ``_existing``); with ``ended``,
        the ids of those whose series ended while their exporters are still scraped (see ``_ended``)."""
        used, capacity = (
            self.query_range(query_text(e, step, selector.owner_label, owners), start, end, step)
            for e in (selector.used, selector.capacity)
        )
        if index is not None:
            self._warn_doubled(index, selector, used)
            self._warn_unbounded(index, selector, capacity)
        written: list[RangeSeries] = []
        if selector.written:
            try:
                written = self.query_range(
                    query_text(selector.written, step, selector.owner_label, owners), start, end, step
                )
            except SourceError as exc:
                if selector.kind not in self._written_failing:
                    log.warning(
                        "%s: bytes written not read, freshness from growth alone until they are: %s", selector.kind, exc
                    )
                self._written_failing.add(selector.kind)
            else:
                if selector.kind in self._written_failing:
                    log.info("%s: bytes written read again", selector.kind)
                self._written_failing.discard(selector.kind)
        identity = VolumeIdentity(selector, used, capacity, self.ownership.former_names())
        joined = join_series(selector, used, capacity, self.ownership, written, identity)
        if existing is not None:
            existing |= self._existing(selector, end, identity, exists_unread)
        if ended is not None:
            ended |= self._ended(selector, joined, end, identity)
        if index is not None:
            self._warn_ambiguous(index, selector, identity)
        return joined

    def _ended(
        self, selector: Selector, volumes: Sequence[UsageHistory], end: float, identity: VolumeIdentity
    ) -> set[str]:
        """The series ids of ``volumes`` without a sample in the last ``max_age`` whose series ended while their
        exporters kept reporting: every series that ``selector.scraped_from`` names for the volume at its last sample
        (its scrape target, job and instance) agrees with one that ``selector.reporting`` names now (by default the
        targets up), so it has been scraped since, without the volume (Prometheus marked its series stale then): it was
        deleted. A volume one of whose targets is down or gone (no ``up``), or no longer reports the kind at all (a
        standby ceph-mgr answers with no metrics), is not: its exporter stopped, and it is left out; so is one that
        ``selector.listed`` still names (see ``_still_listed``). None without ``scraped_from``, or when Prometheus
        fails a query (those volumes are then left out, as before, and the log says so once)."""
        unsampled = {h.series: int(h.timestamps[-1]) for h in volumes if h.timestamps[-1] < end - self.config.max_age}
        if not selector.scraped_from or not unsampled:
            return set()
        step = self.config.step
        query = query_text(selector.scraped_from, step)

        def reporters_and_reporting() -> tuple[dict[str, list[RangeSeries]], Reporting]:
            reporters: dict[str, list[RangeSeries]] = {}
            now = self.query_range(query_text(selector.reporting or _TARGETS_UP, step), end, end, step)
            reporting = Reporting(s.labels for s in now if s.values.size)
            # What reported a volume at its last sample does not change: asked once per time, kept for the lookback.
            self._reported = {k: v for k, v in self._reported.items() if k[1] >= end - self.config.lookback}
            for at in sorted(set(unsampled.values())):
                if (query, at) not in self._reported:
                    self._reported[query, at] = self.query_range(query, at, at, step)
                for s in self._reported[query, at]:
                    volume = volume_id(selector, identity(volume_key(selector, s)))
                    if unsampled.get(volume) == at:
                        reporters.setdefault(volume, []).append(s)
            return reporters, reporting

        answer = self._unless_failing(
            selector,
            "scraped_from",
            "which exporters are still scraped not read, volumes without a sample are left out",
            reporters_and_reporting,
        )
        if answer is None:
            return set()
        reporters, reporting = answer
        # Each deleted volume with its key (by which _still_listed tells its cluster): that of its last reporter read.
        deleted = {
            volume: identity(volume_key(selector, by[-1]))
            for volume, by in reporters.items()
            if all(reporting(s.labels) for s in by)
        }
        return set(deleted) - self._still_listed(selector, deleted, end, identity)

    def _still_listed(
        self, selector: Selector, volumes: Mapping[str, tuple[str, ...]], end: float, identity: VolumeIdentity
    ) -> set[str]:
        """Those of ``volumes`` (series id: volume key) that ``selector.listed`` does not show deleted: those it still
        names (see ``_named_keys``: they exist), and those of a cluster (``cluster`` volume label; without it, the
        whole kind) of which it names no volume at all: an empty listing is its lister down (kube-state-metrics not
        scraped), no proof that every volume there was deleted. None without it; all of them when Prometheus fails
        it. Those not gone are left out, and the log says so once."""
        if not selector.listed or not volumes:
            return set()
        named = self._unless_failing(
            selector,
            "listed",
            "which volumes still exist not read, volumes without a sample are left out",
            partial(self._named_keys, selector, selector.listed, end, identity),
        )
        if named is None:
            return set(volumes)
        listing = {_cluster_of(selector, key) for key in named}
        unlisted = sorted({_cluster_of(selector, key) for key in volumes.values()} - listing)
        if self._said.anew(f"listed names nothing in {selector.kind}", unlisted):
            log.warning(
                "%s: listed names no volume %s (its lister, such as kube-state-metrics, down?): volumes there without "
                "a sample are left out, not gone",
                selector.kind,
                ", ".join(f"of cluster {c!r}" if c else "at all" for c in unlisted),
            )
        ids = {volume_id(selector, key) for key in named}
        return {v for v, key in volumes.items() if v in ids or _cluster_of(selector, key) in unlisted}

    def _warn_ambiguous(self, index: int, selector: Selector, identity: VolumeIdentity) -> None:
        """Warn (when it names another) of the volumes of ``selector``'s written, exists or listed series that lack a
        volume label its used series carry, or carry one they lack, and so could be more than one volume read: they
        are joined to none."""
        shown = sorted("/".join(v or "?" for v in key) for key in identity.ambiguous)
        if self._said.anew(f"ambiguous in selectors[{index}]", shown):
            log.warning(
                "%d volume(s) of the written, exists or listed series of selectors[%d] (kind %s) could be more than "
                "one volume of its used series (volume labels %s: one exporter's series carry a label the other's "
                "lack, '?' where lacking), joined to none: %s",
                len(shown),
                index,
                selector.kind,
                list(selector.volume),
                ", ".join(shown[:10]) + (", ..." if len(shown) > 10 else ""),
            )

    def _warn_doubled(self, index: int, selector: Selector, used: Sequence[RangeSeries]) -> None:
        """Warn (when it names another volume) of the volumes ``selector`` returns as more than one series sampled
        last at once: two scrape jobs of one filesystem, or volume labels that do not tell volumes apart (a label
        no series carries, misspelt: named). A stopped copy (a device renamed at a reboot, a job retired) is no
        double: its history joins the new one's."""
        doubled = sorted("/".join(v for v in key if v) for key in at_once(used, partial(volume_key, selector)))
        if not self._said.anew(f"returned more than once by selectors[{index}]", doubled):
            return
        missing = [label for label in selector.volume if not any(label in s.labels for s in used)]
        why = f"two scrape jobs, or volume labels {list(selector.volume)} that do not tell its volumes apart"
        if missing:
            why += (
                f"; no series carries {', '.join(map(repr, missing))} ({self.where}: selectors[{index}].volume): "
                "misspelt?"
            )
        log.warning(
            "%d volume(s) returned more than once by selectors[%d] (kind %s), counted once: %s; %s",
            len(doubled),
            index,
            selector.kind,
            ", ".join(doubled[:10]) + (", ..." if len(doubled) > 10 else ""),
            why,
        )

    def _warn_unbounded(self, index: int, selector: Selector, capacity: Sequence[RangeSeries]) -> None:
        """Warn (when it names another volume) of the volumes whose capacity is not a finite number at some samples
        (+Inf: no limit set): ``join_series`` leaves those samples out."""
        odd = sorted(
            {"/".join(v for v in volume_key(selector, s) if v) for s in capacity if not np.isfinite(s.values).all()}
        )
        if self._said.anew(f"capacity not finite in selectors[{index}]", odd):
            log.warning(
                "%d volume(s) of selectors[%d] (kind %s) with a capacity that is not a finite number (+Inf: no limit "
                "set?) at some samples, those samples left out (a volume with no other is not forecast): %s",
                len(odd),
                index,
                selector.kind,
                ", ".join(odd[:10]) + (", ..." if len(odd) > 10 else ""),
            )


class Reporting:
    """What reports a kind of storage now (a selector's ``reporting`` series, by their labels): whether the series
    that reported a volume (a ``scraped_from`` series) is one of them, agreeing with one on each of its labels."""

    def __init__(self, reporting: Iterable[Mapping[str, str]]) -> None:
        # By the label names they carry, the values of those labels (a bare metric's name is no label to agree on).
        self._by_names: dict[tuple[str, ...], set[tuple[str, ...]]] = {}
        for labels in reporting:
            names = tuple(sorted(name for name in labels if name != "__name__"))
            self._by_names.setdefault(names, set()).add(tuple(labels[name] for name in names))

    def __call__(self, reporter: Mapping[str, str]) -> bool:
        return any(
            tuple(reporter.get(name, "") for name in names) in values for names, values in self._by_names.items()
        )


def volume_key(selector: Selector, series: RangeSeries) -> tuple[str, ...]:
    """Which volume of ``selector`` a series is: the values of its volume labels."""
    return tuple(series.labels.get(label, "") for label in selector.volume)


def volume_id(selector: Selector, key: tuple[str, ...]) -> str:
    """The series id of ``selector``'s volume ``key``: its kind, then the volume labels it carries, joined by '/'."""
    return f"{selector.kind}:{'/'.join(v for v in key if v)}"


def _cluster_of(selector: Selector, key: tuple[str, ...]) -> str:
    """The ``cluster`` volume label of ``key`` ('' where ``selector`` has none, or ``key`` lacks it): the lister
    (kube-state-metrics) of a Kubernetes cluster answers for its own volumes only."""
    return key[selector.volume.index("cluster")] if "cluster" in selector.volume else ""


def at_once(series: Sequence[RangeSeries], identity: Callable[[RangeSeries], tuple[str, ...]]) -> list[tuple[str, ...]]:
    """The volumes (by ``identity``) of which more than one series has a sample at the volume's last timestamp."""
    last: dict[tuple[str, ...], list[int]] = {}
    for one in series:
        if one.timestamps.size:
            last.setdefault(identity(one), []).append(int(one.timestamps[-1]))
    return [key for key, ends in last.items() if ends.count(max(ends)) > 1]


# A label no exporter sets, marking the series `only_owners` keeps.
_KEEP = "dizuo_keep"


def only_owners(expression: str, label: str, regex: str) -> str:
    """``expression`` reduced, in Prometheus, to its series whose ``label`` matches ``regex``: PromQL has no label
    filter on an expression, so the ones that match are marked by ``label_replace`` (its regex is anchored) and kept
    by matching the mark against a one-sample vector. Prometheus still evaluates all of them (see OWNERS)."""
    marked = f'label_replace(({expression}), "{_KEEP}", "1", "{label}", `{regex}`)'
    return f'{marked} and on ({_KEEP}) label_replace(vector(1), "{_KEEP}", "1", "", "")'


class Said:
    """The volumes each warning that holds run after run named last: it is logged again when it names one more, not
    on every run (a deleted volume stays in a 28-day range query for 28 days: 8,000 lines at a 5-minute interval)."""

    def __init__(self) -> None:
        self._named: dict[str, frozenset[str]] = {}

    def anew(self, warning: str, volumes: Collection[str]) -> bool:
        """Whether ``warning`` is to be logged for ``volumes``: one of them is not among those it named last."""
        named = frozenset(volumes)
        before, self._named[warning] = self._named.get(warning, frozenset()), named
        return not named <= before


def one_per_volume(histories: Sequence[UsageHistory], said: Said | None = None) -> list[UsageHistory]:
    """One history per series id. The same volume can come twice: two selectors naming one volume (one selector's
    series of one volume are merged by ``join_series``). Counted twice, a department's volumes would add up to
    double; the one sampled last (then the longer one) stands for it. The log says so, each time with ``said`` None,
    else when another volume comes twice."""
    chosen: dict[str, UsageHistory] = {}
    for history in histories:
        held = chosen.get(history.series)
        if held is None or (int(history.timestamps[-1]), history.timestamps.size) > (
            int(held.timestamps[-1]),
            held.timestamps.size,
        ):
            chosen[history.series] = history
    doubled = sorted({h.series for h in histories if chosen[h.series] is not h})
    if said.anew("returned more than once", doubled) if said is not None else doubled:
        log.warning(
            "%d volume(s) returned more than once (by two selectors of its kind), counted once: %s",
            len(doubled),
            ", ".join(doubled[:10]) + (", ..." if len(doubled) > 10 else ""),
        )
    return list(chosen.values())


def join_series(
    selector: Selector,
    used: Sequence[RangeSeries],
    capacity: Sequence[RangeSeries],
    ownership: Ownership,
    written: Sequence[RangeSeries] = (),
    identity: VolumeIdentity | None = None,
) -> list[UsageHistory]:
    """Pair used and capacity bytes on the selector's volume labels, on the timestamps both have; bytes written, where
    given, are joined on the same labels (NaN at a timestamp they lack), or those both carry (see
    ``VolumeIdentity``). A volume's series of each are first merged over time (see ``per_volume``): a device renamed
    at a reboot, a scrape job retired, leave a stopped copy of its series in the history read, and the volume's
    history runs on in the new one; so does a series that gained a volume label (kubernetes-mixin's ``cluster``, added
    to the scrape) where one volume only carries it (see ``completed``). ``identity`` is that of these series, given
    where the caller names more series with it."""
    known = identity if identity is not None else VolumeIdentity(selector, used, capacity, ownership.former_names())

    def identity_of(series: RangeSeries) -> tuple[str, ...]:
        return known(volume_key(selector, series))

    capacities = per_volume(capacity, identity_of)
    writes = per_volume(written, identity_of)
    out = []
    for key, series in per_volume(used, identity_of).items():
        other = capacities.get(key)
        if other is None:
            continue  # No capacity (e.g. a bucket without quota): it cannot fill, nothing to forecast.
        stamps, in_used, in_capacity = np.intersect1d(series.timestamps, other.timestamps, return_indices=True)
        held = other.values[in_capacity]
        # +Inf (no limit set) holds anything: nothing to forecast at that sample, and no number to chart or add up.
        keep = (held > 0) & np.isfinite(held) & np.isfinite(series.values[in_used])
        if not keep.any():
            continue
        labels = ownership.labels(selector, series.labels)
        kept = stamps[keep].astype(np.int64)
        out.append(
            UsageHistory(
                series=f"{selector.kind}:{labels['volume']}",
                timestamps=kept,
                used_bytes=series.values[in_used][keep].astype(np.float64),
                capacity_bytes=other.values[in_capacity][keep].astype(np.float64),
                labels=labels,
                written_bytes=_on(kept, writes.get(key)),
            )
        )
    return out


def joined_ids(histories: Sequence[UsageHistory], ownership: Ownership) -> list[UsageHistory]:
    """Unlabelled histories (CSV input) joined as ``join_series`` joins the series of one volume: the ids of one
    volume under a renamed cluster's two names (see ``VolumeIdentity``), with or without their kind (see
    ``Ownership.id_kind``: ``ceph_pool:yl-gov/xc-ceph``, ``yl-egov/xc-ceph``, ``pvc:yl-gov/sjj-tyrz/data``), are one
    history under the id sampled last, in the place of the first. Only ids of a kind whose default selector has a
    ``cluster`` volume label, naming every volume label and a renamed cluster by either name, are joined; every other
    id (a cluster never renamed: ``ceph_pool:yl-dmz/xc-ceph`` beside ``yl-dmz/xc-ceph``) is returned as it is."""
    former_names = ownership.former_names()
    renamed = other_cluster_names(former_names)
    by_kind: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
    selectors: dict[str, Selector] = {s.kind: s for s in DEFAULT_SELECTORS if "cluster" in s.volume}
    for index, history in enumerate(histories):
        kind, name = ownership.id_kind(history.series)
        key = tuple(name.split("/"))
        if history.labels or kind not in selectors or len(key) != len(selectors[kind].volume) or not all(key):
            continue
        if key[selectors[kind].volume.index("cluster")] in renamed:
            by_kind.setdefault(kind, []).append((index, key))
    out: dict[int, UsageHistory | None] = {}
    for kind, members in by_kind.items():
        selector = selectors[kind]
        used, capacity = [], []
        for index, key in members:
            labels = dict(zip(selector.volume, key, strict=True))
            read = histories[index]
            used.append(RangeSeries(labels, read.timestamps, read.used_bytes))
            capacity.append(RangeSeries(labels, read.timestamps, read.capacity_bytes))
        identity = VolumeIdentity(selector, used, capacity, former_names)
        # Under the id as the file writes it (`yl-egov/xc-ceph` has no kind), labelled by the caller from that id, as
        # any other CSV history (not by the source's labels).
        # Two ids of one key (`ceph_pool:yl-egov/xc-ceph`, `yl-egov/xc-ceph`): the one sampled last, as for two keys.
        by_last = sorted(members, key=lambda member: _last_sample(histories[member[0]]))
        written = {volume_id(selector, key): histories[index].series for index, key in by_last}
        joined = {
            h.series: UsageHistory(written[h.series], h.timestamps, h.used_bytes, h.capacity_bytes)
            for h in join_series(selector, used, capacity, ownership, identity=identity)
        }
        for index, key in members:
            out[index] = joined.pop(volume_id(selector, identity(key)), None)  # None: its volume's place is taken
    return [kept for index, one in enumerate(histories) if (kept := out.get(index, one)) is not None]


def _last_sample(history: UsageHistory) -> int:
    return int(history.timestamps[-1]) if history.timestamps.size else -1


class VolumeIdentity:
    """Which volume of the used and capacity series read a volume key is. A key they carry is the volume it names,
    or, where it lacks a label that one volume gained later, that one (see ``completed``). Any other key (of a
    written, exists or listed series, read from another exporter) is the one volume agreeing with it on every volume
    label both carry: kube-state-metrics' ``(namespace, claim)`` is kubelet's ``(cluster, namespace, claim)`` where
    only kubelet's scrape adds ``cluster``, and the reverse. Where it could be more than one, it stays its own (joined
    to none) and is kept in ``ambiguous``.

    A renamed cluster's former name (``former_names``: former name to new) in the ``cluster`` volume label is the
    cluster of its new name, where the volume was read under that name after (see ``relabelled``): the city relabelled
    its scrape, and the volume's history runs on under the new name; the new name is the former one where the volume
    was read under the former name after (the relabelling rolled back). Any other key naming a renamed cluster by one
    name is the volume read under its other name, where only that one was read."""

    def __init__(
        self,
        selector: Selector,
        used: Sequence[RangeSeries],
        capacity: Sequence[RangeSeries],
        former_names: Mapping[str, str] | None = None,
    ) -> None:
        read: dict[tuple[str, ...], int] = {}
        for series in [*used, *capacity]:
            if series.timestamps.size:
                key = volume_key(selector, series)
                read[key] = max(read.get(key, int(series.timestamps[-1])), int(series.timestamps[-1]))
        cluster = selector.volume.index("cluster") if "cluster" in selector.volume else None
        moved = relabelled(read, cluster, former_names or {})
        under_last_name = {key: moved.get(key, key) for key in read}
        last: dict[tuple[str, ...], int] = {}
        for key, at in read.items():
            last[under_last_name[key]] = max(last.get(under_last_name[key], at), at)
        self._named = completed(last)
        self._known = {key: self._named.get(renamed, renamed) for key, renamed in under_last_name.items()}
        if cluster is not None:
            # A key naming a renamed cluster by one name is the volume read under its other name, where only that one
            # was read: kube-state-metrics' scrape relabelled before kubelet's, or after.
            other_name = other_cluster_names(former_names or {})
            for key, volume in list(self._known.items()):
                if key[cluster] in other_name:
                    self._known.setdefault((*key[:cluster], other_name[key[cluster]], *key[cluster + 1 :]), volume)
        # The volumes by the labels they carry (which are empty), for a lookup on the labels a key shares with them.
        self._by_carried: dict[tuple[bool, ...], set[tuple[str, ...]]] = {}
        for volume in set(self._known.values()):
            self._by_carried.setdefault(tuple(bool(v) for v in volume), set()).add(volume)
        self._index: dict[tuple[tuple[bool, ...], tuple[bool, ...]], dict[tuple[str, ...], set[tuple[str, ...]]]] = {}
        self._resolved: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.ambiguous: set[tuple[str, ...]] = set()

    def __call__(self, key: tuple[str, ...]) -> tuple[str, ...]:
        known = self._known.get(key)
        if known is not None:
            return known
        if key not in self._resolved:
            found = self._agreeing(key)
            if len(found) > 1:
                self.ambiguous.add(key)
            self._resolved[key] = found.pop() if len(found) == 1 else key
        return self._resolved[key]

    def _agreeing(self, key: tuple[str, ...]) -> set[tuple[str, ...]]:
        """The volumes agreeing with ``key`` on each volume label both carry (at least one)."""
        carries = tuple(bool(v) for v in key)
        found: set[tuple[str, ...]] = set()
        for carried, volumes in self._by_carried.items():
            shared = tuple(a and b for a, b in zip(carries, carried, strict=True))
            if not any(shared):
                continue
            index = self._index.get((shared, carried))
            if index is None:
                index = {}
                for volume in volumes:
                    index.setdefault(_carried(volume, shared), set()).add(volume)
                self._index[(shared, carried)] = index
            found |= index.get(_carried(key, shared), set())
        return found


def _carried(key: tuple[str, ...], shared: tuple[bool, ...]) -> tuple[str, ...]:
    return tuple(v for v, keep in zip(key, shared, strict=True) if keep)


def relabelled(
    last: Mapping[tuple[str, ...], int], cluster: int | None, former_names: Mapping[str, str]
) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The volume each key whose ``cluster`` label (its index in the keys; None: none) is one name of a renamed cluster
    (``former_names``: former name to new) is: the same key under the cluster's other name, where that key was sampled
    after it (``last``: each key's last timestamp). The city's Prometheus relabelled ``yl-gov`` to ``yl-egov``, and the
    claim's history before joins the one after; or it rolled the relabelling back, and the history under ``yl-egov``
    joins the one under ``yl-gov`` again: one volume either way, named as it was sampled last, as the exporters and
    listers name it now. Both sampled last at once (one scrape relabelled, another not), it stays its own, as
    ``completed`` has it for a key lacking the label."""
    if cluster is None or not former_names:
        return {}
    other_name = other_cluster_names(former_names)
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for key, at in last.items():
        other = other_name.get(key[cluster])
        if other is None:
            continue
        renamed = (*key[:cluster], other, *key[cluster + 1 :])
        if last.get(renamed, at) > at:
            out[key] = renamed
    return out


def other_cluster_names(former_names: Mapping[str, str]) -> dict[str, str]:
    """Each name of a renamed cluster (``former_names``: former name to new) to its other name. A former name is never
    another cluster's name (the declaration refuses it), so each name has one other."""
    return {n: o for former, now in former_names.items() for n, o in ((former, now), (now, former))}


def completed(last: Mapping[tuple[str, ...], int]) -> dict[tuple[str, ...], tuple[str, ...]]:
    """The volume each key lacking some volume labels (empty values) is, where exactly one key carries them, agrees
    on all the others and was sampled after it (``last``: each key's last timestamp): ``("", "sjj-tyrz", "data")``
    is ``("yl-gov", "sjj-tyrz", "data")`` once a scrape gained the ``cluster`` label, where no other cluster has that
    claim. With two candidates, or both sampled last at once (one cluster labelled, another not), it stays its own."""
    out: dict[tuple[str, ...], tuple[str, ...]] = {}
    for pattern in {tuple(v == "" for v in key) for key in last if "" in key}:

        def held(key: tuple[str, ...], pattern: tuple[bool, ...] = pattern) -> tuple[str, ...]:
            return tuple(v for v, empty in zip(key, pattern, strict=True) if not empty)

        # Keys that carry every label this pattern lacks, by their values where it has them.
        fuller: dict[tuple[str, ...], list[tuple[str, ...]]] = {}
        for key in last:
            if all(v for v, empty in zip(key, pattern, strict=True) if empty):
                fuller.setdefault(held(key), []).append(key)
        for key in last:
            if tuple(v == "" for v in key) == pattern:
                found = fuller.get(held(key), [])
                if len(found) == 1 and last[found[0]] > last[key]:
                    out[key] = found[0]
    return out


def per_volume(
    series: Sequence[RangeSeries], identity: Callable[[RangeSeries], tuple[str, ...]]
) -> dict[tuple[str, ...], RangeSeries]:
    """The series of each volume (by ``identity``) merged into one over time: at a timestamp where more than one has a
    sample, the one sampled last (then the longer one) wins; it gives the labels."""
    groups: dict[tuple[str, ...], list[RangeSeries]] = {}
    for one in series:
        groups.setdefault(identity(one), []).append(one)
    merged = {}
    for key, group in groups.items():
        if len(group) == 1:
            merged[key] = group[0]
            continue
        ordered = sorted(group, key=lambda s: (int(s.timestamps[-1]) if s.timestamps.size else 0, s.timestamps.size))
        # Reversed, the winner's samples come first; np.unique keeps the first of each timestamp, in time order.
        stamps = np.concatenate([s.timestamps for s in reversed(ordered)])
        values = np.concatenate([s.values for s in reversed(ordered)])
        unique, first = np.unique(stamps, return_index=True)
        merged[key] = RangeSeries(ordered[-1].labels, unique.astype(np.int64), values[first])
    return merged


def _on(stamps: np.ndarray[Any, np.dtype[np.int64]], series: RangeSeries | None) -> np.ndarray[Any, Any] | None:
    """``series``' values at ``stamps``, NaN where it has none; None without a series."""
    if series is None:
        return None
    values = np.full(stamps.size, np.nan)
    _, at, of = np.intersect1d(stamps, series.timestamps, return_indices=True)
    values[at] = series.values[of]
    return values
