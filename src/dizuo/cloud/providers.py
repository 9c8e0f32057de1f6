"""One explicit Kubernetes provider per declared cluster: no stack ever talks to an implicit default cluster; and the
OpenStack region a stack's config pins, so that no operator's environment picks one."""

from __future__ import annotations

from pathlib import Path

import pulumi
import pulumi_kubernetes as k8s

from dizuo.aliases import aliased
from dizuo.declaration.model import Declaration


def cluster_providers(
    stack: str, declaration: Declaration, clusters: set[str] | None = None
) -> dict[str, k8s.Provider]:
    """A provider per cluster (``clusters`` limits which), using kubeconfig context ``<cluster>``.

    A secret ``dizuo:kubeconfig-<cluster>`` in the stack config, if set, is used instead of ~/.kube/config.
    """
    config = pulumi.Config("dizuo")
    providers = {}
    for cluster in declaration.clusters:
        if clusters is not None and cluster.name not in clusters:
            continue
        was = cluster.renamed_from
        kubeconfig = config.get_secret(f"kubeconfig-{cluster.name}")
        if was and kubeconfig is None and config.get_secret(f"kubeconfig-{was}") is not None:
            # The provider would take ~/.kube/config instead, silently: whatever cluster its context names there.
            raise pulumi.RunError(
                f"{Path(f'Pulumi.{pulumi.get_stack()}.yaml').resolve()}: config.dizuo:kubeconfig-{was}: the "
                f"kubeconfig of cluster {was!r}, which clusters.yaml renames {cluster.name!r} (renamed_from), whose "
                f"provider reads dizuo:kubeconfig-{cluster.name}, which is not set, and would take ~/.kube/config "
                f"instead; move it with `pulumi config set --secret dizuo:kubeconfig-{cluster.name} <kubeconfig>` and "
                f"`pulumi config rm dizuo:kubeconfig-{was}` in this folder"
            )
        providers[cluster.name] = k8s.Provider(
            f"{stack}-{cluster.name}",
            context=cluster.name,
            kubeconfig=kubeconfig,
            # Server-Side Apply: the API server computes each change and records which fields Pulumi manages (no
            # last-applied-configuration annotation), and the *Patch kinds work only in this mode. It is the v4
            # provider's default, set here so that PULUMI_K8S_ENABLE_SERVER_SIDE_APPLY=false in an operator's
            # environment, which the provider reads only when the option is unset, cannot switch it off. It has
            # nothing to do with an unreachable cluster: the two options below decide that.
            enable_server_side_apply=True,
            # Refuse to guess: an unreachable cluster fails the update, instead of its resources being skipped (the
            # stack then records them as applied) or dropped from the state (the next update would create them
            # again beside the running ones). Both default to false, but the provider takes
            # PULUMI_K8S_SKIP_UPDATE_UNREACHABLE and PULUMI_K8S_DELETE_UNREACHABLE from the environment when unset.
            skip_update_unreachable=False,
            delete_unreachable=False,
            # A create fails on an object of the same name already in the cluster (pulumi-kubernetes 4.29 and later),
            # instead of taking it over: another team's namespace, or the one a renamed resource is about to delete
            # (create-then-delete would remove the object both name). Off by default, but the provider takes
            # PULUMI_K8S_UPSERT_EXISTING_OBJECTS from the environment when unset.
            upsert_existing_objects=False,
            # A renamed cluster's provider is the deployed one: Pulumi replaces what a provider it takes for another
            # one made, which is everything the stack has on the cluster (pulumi/pulumi#6453 spares an aliased one).
            opts=aliased(pulumi.ResourceOptions(), was and f"{stack}-{was}"),
        )
    return providers


def configured_openstack_region(needed_for: str | None) -> str | None:
    """``openstack:region`` of the stack's config, stripped; None when blank or missing. A RunError naming the config
    file and the key when it is missing or blank and ``needed_for`` says what the stack makes in it: the OpenStack
    provider would take the operator's environment (OS_REGION_NAME, or the clouds.yaml entry of OS_CLOUD) instead, so a
    shell set for another region would make the city's resources there, beside the ones it runs on."""
    given = pulumi.Config("openstack").get("region")
    region = given.strip() if given is not None and given.strip() else None
    if region is None and needed_for is not None:
        said = "missing" if given is None else f"blank ({given!r})"
        raise pulumi.RunError(
            f"{Path(f'Pulumi.{pulumi.get_stack()}.yaml').resolve()}: config.openstack:region: {said}: {needed_for}, "
            "whose region must not come from the operator's environment; set the region of the network stack (the "
            "same in 0-network and 1-datapool) with `pulumi config set openstack:region <region>` in this folder"
        )
    return region
