"""The Ardent policy pack's program: serves the policies of :mod:`ardent_provider.policy.rules` to the engine."""

from ardent_provider.policy.crossguard import serve

if __name__ == "__main__":
    serve()
