-- +goose Up
-- Address whitelist (DCE Pay's ADDRESS_NOT_WHITELISTED). An entry is usable from
-- usable_at (creation + WHITELIST_COOLDOWN). Turning enforcement off is delayed the
-- same way: whitelist_enforced_until is when a requested "off" takes effect.
ALTER TABLE merchants ADD COLUMN whitelist_enabled boolean NOT NULL DEFAULT false;
ALTER TABLE merchants ADD COLUMN whitelist_enforced_until timestamptz;

CREATE TABLE whitelist_entries (
    id                 text        PRIMARY KEY,
    merchant_id        text        NOT NULL REFERENCES merchants (id),
    token              text        NOT NULL REFERENCES tokens (symbol),
    address            text        NOT NULL,
    normalized_address text        NOT NULL,
    label              text        NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    usable_at          timestamptz NOT NULL,
    deleted_at         timestamptz
);
CREATE UNIQUE INDEX whitelist_entries_unique_idx ON whitelist_entries (merchant_id, token, normalized_address) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE whitelist_entries;
ALTER TABLE merchants DROP COLUMN whitelist_enforced_until, DROP COLUMN whitelist_enabled;
