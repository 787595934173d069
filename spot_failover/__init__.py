"""``spot-failover``: the command that shows what the failover is doing, like ``kubectl get``.

Everything the add-on knows about a Deployment is in its ``spot-failover/*`` annotations (see
:mod:`spot_common.contract`), so the command reads Deployments and nothing else: no pod, Lease or
sidecar is asked. The layers, imported in one direction only (``.importlinter`` holds the pure
modules under the shell and off the Kubernetes client and I/O):

* :mod:`spot_failover.status` (pure): one Deployment's JSON to a status; never raises, shows a
  corrupt annotation as ``?`` with a problem naming it;
* :mod:`spot_failover.ages` (pure): ages as kubectl prints them;
* :mod:`spot_failover.render` (pure): the tables and JSON documents; the demo uses
  :func:`spot_failover.render.status_table`;
* :mod:`spot_failover.kube` (shell): kubeconfig, listing and reading Deployments, and the
  translation of client exceptions into :mod:`spot_failover.errors`;
* :mod:`spot_failover.cli`: arguments, output streams, exit codes.
"""
