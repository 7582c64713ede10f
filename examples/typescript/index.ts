// One Ardent API key with the Admin role, declared through the generated Node.js SDK (scripts/gen-sdk).
import * as ardent from "pulumi-ardent";

const key = new ardent.ApiKey("Production-Test", { role: "Admin" });

// The SDK marks token as a secret output, so the stack stores and shows it encrypted as it is.
export const productionTestToken = key.token;
export const productionTestKeyId = key.keyId;
