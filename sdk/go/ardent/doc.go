// Ardent API keys as Pulumi resources: the token is a secret output, rotation keeps the old key for a grace period, and a key is never revoked unless it is provably the stack's.
package ardent
