package handlers

import (
	"github.com/labstack/echo/v4"
)

// routes lists every route at a glance. The authorization rule of each is the group it
// is registered on.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", s.openapi)

	merchant := e.Group("/api", s.authenticate, s.rateLimit, requireRole("merchant"), requireWriteScope)
	merchant.POST("/withdrawals", s.createWithdrawal)
	merchant.GET("/withdrawals", s.listWithdrawals)
	merchant.GET("/withdrawals/fee", s.quoteFee)
	merchant.GET("/withdrawals/:id", s.getWithdrawal)
	merchant.POST("/withdrawals/:id/cancel", s.cancelWithdrawal)
	merchant.GET("/balance", s.getBalance)
	merchant.POST("/webhook-endpoints", s.createWebhookEndpoint)
	merchant.GET("/webhook-endpoints", s.listWebhookEndpoints)
	merchant.DELETE("/webhook-endpoints/:id", s.deleteWebhookEndpoint)
	merchant.POST("/webhook-endpoints/:id/rotate-secret", s.rotateWebhookSecret)
	merchant.POST("/webhook-endpoints/:id/test", s.testWebhookEndpoint)
	merchant.GET("/whitelist", s.getWhitelist)
	merchant.POST("/whitelist", s.addWhitelistEntry)
	merchant.DELETE("/whitelist/:id", s.removeWhitelistEntry)
	merchant.PUT("/whitelist/settings", s.setWhitelistSettings)
	merchant.GET("/webhook-deliveries", s.listWebhookDeliveries)
	merchant.POST("/webhook-deliveries/:id/retry", s.retryWebhookDelivery)

	admin := e.Group("/api/admin", s.authenticate, s.rateLimit, requireRole("admin"), requireWriteScope)
	admin.GET("/withdrawal-fees", s.getFeeSchedules)
	admin.POST("/withdrawal-fees", s.setFeeSchedule)
	admin.PUT("/withdrawal-fees", s.testFeeCalculation)
	admin.GET("/withdrawal-fees/changes", s.listFeeChanges)
	admin.GET("/tokens", s.listTokens)
	admin.PUT("/tokens/:token/networks/:network", s.setNetwork)
	admin.POST("/merchants", s.createMerchant)
	admin.GET("/merchants", s.listMerchants)
	admin.POST("/merchants/:id/api-keys", s.createMerchantKey)
	admin.GET("/merchants/:id/api-keys", s.listMerchantKeys)
	admin.POST("/merchants/:id/credits", s.creditMerchant)
	admin.POST("/merchants/:id/freeze", s.freezePayouts)
	admin.POST("/merchants/:id/unfreeze", s.unfreezePayouts)
	admin.DELETE("/api-keys/:id", s.revokeKey)
	admin.GET("/withdrawals", s.adminListWithdrawals)
	admin.POST("/withdrawals/:id/resolve", s.resolveWithdrawal)
	admin.GET("/ledger/reconciliation", s.reconciliation)
	admin.GET("/fee-revenue", s.feeRevenue)
	admin.POST("/payout-runs", s.runPayouts)
	admin.GET("/payout-batches", s.listPayoutBatches)
	admin.POST("/payout-batches/:id/resolve", s.resolvePayoutBatch)
	admin.GET("/audit-log", s.listAuditLog)
	admin.GET("/sandbox", s.getSandbox)
	admin.PUT("/sandbox", s.setSandbox)
}
