"""The sync client: :class:`Registry`.

::

    from modelyard import Registry

    with Registry() as registry:  # $MODELYARD_ADDRESS, token from the environment
        registry.create_group("fraud", description="Card fraud scores")
        v = registry.register("fraud", uri="s3://models/fraud/1.onnx", sha256=digest,
                              format="onnx", metrics={"auc": 0.93})
        for version in registry.list_versions("fraud", filter="metrics.auc > 0.9"):
            print(version.name, version.metrics["auc"])

Its code is generated from :class:`modelyard.AsyncRegistry`'s into ``modelyard._sync``.
"""

from modelyard._sync.client import Registry

__all__ = ["Registry"]
