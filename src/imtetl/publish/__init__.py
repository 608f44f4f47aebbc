"""Publish: copy the contract's schemas from the build database into a new file and switch
readers to it atomically (rename), so readers only ever see complete states."""

from imtetl.publish.release import PUBLISHED_SCHEMAS, publish_release

__all__ = ["PUBLISHED_SCHEMAS", "publish_release"]
