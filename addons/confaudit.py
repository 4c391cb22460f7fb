"""mitmproxy entry file: ``mitmdump -s addons/confaudit.py --set confaudit_session=DIR``.

The logic ships in the confaudit package (``confaudit.capture.mitm_addon``) and is unit-tested there.
"""

from confaudit.capture.mitm_addon import ConfauditAddon

addons = [ConfauditAddon()]
