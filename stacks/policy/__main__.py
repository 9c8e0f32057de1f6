"""Policy pack: `pulumi preview --policy-pack stacks/policy` enforces dizuo's 等保 rules on every stack."""

from pulumi_policy import PolicyPack

from dizuo.baseline.policies import policies

PolicyPack(name="dizuo-dengbao", policies=policies())
