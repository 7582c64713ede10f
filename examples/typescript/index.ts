// Ardent API keys declared through the Node.js SDK package pulumi-ardent: the seed's key with the Admin
// role and, when the stack's configuration asks for them, a key adopted from the console and a key in a
// partner organization.
import * as pulumi from "@pulumi/pulumi";
import * as ardent from "pulumi-ardent";

const config = new pulumi.Config();

const key = new ardent.ApiKey("Production-Test", {
    role: "Admin",
    // Optional: without it the key never expires.
    expiresInDays: config.getNumber("expiresInDays"),
});

// The SDK marks token as a secret output, so the stack stores and shows it encrypted as it is.
export const productionTestToken = key.token;
export const productionTestKeyId = key.keyId;

// A key made in the console, brought in with `pulumi import ardent:index:ApiKey handMade <key id>` and then
// declared as it is. Its token cannot be read back, so the provider keeps the key without one.
const adoptKeyId = config.get("adoptKeyId");
if (adoptKeyId) {
    new ardent.ApiKey("handMade", {
        name: "hand-made",
        role: "Member",
        scopes: ["projects.read"],
        expiresInDays: 60,
        adoptKeyId,
        onMissingToken: "keep",
    });
}

// A key in another organization, through an explicit provider holding that organization's token.
const partnerOrgId = config.get("partnerOrgId");
let partnerKey: ardent.ApiKey | undefined;
if (partnerOrgId) {
    const partner = new ardent.Provider("partner", {
        orgId: partnerOrgId,
        token: config.requireSecret("partnerToken"),
        apiUrl: config.get("partnerApiUrl"),
    });
    partnerKey = new ardent.ApiKey("partnerViewer", { role: "Viewer" }, { provider: partner });
}
export const partnerKeyOrgId = partnerKey?.orgId;
export const partnerKeyToken = partnerKey?.token;
