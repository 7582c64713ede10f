"""How many ArdentApiKey resources one Pulumi program can declare: prints that count, at most the given N.

    .venv/bin/python -m bench.pickling 1000

Every dynamic resource pickles its provider with pulumi's ``serialize_provider``, which (pulumi 3.272 on
Python < 3.14) wraps ``pickle._Pickler._batch_setitems`` once more on each call and never unwraps it. Pickling
a dict at the k-th resource then nests k calls, so a provider whose pickle holds a dict fails with
RecursionError after about a thousand resources. Run in a process of its own: the wrapping is global.
"""

from __future__ import annotations

import sys

from pulumi.dynamic.dynamic import serialize_provider

from ardent_provider.provider import ArdentApiKeyProvider


def declarable(limit: int) -> int:
    provider = ArdentApiKeyProvider()
    for done in range(limit):
        try:
            serialize_provider(provider)
        except RecursionError:
            return done
    return limit


if __name__ == "__main__":
    print(declarable(int(sys.argv[1])))
