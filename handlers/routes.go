package handlers

import (
	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/apidocs"
)

// routes lists every route at a glance. The authorization rule of each is the group it
// is registered on.
func (s *Server) routes(e *echo.Echo) {
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/openapi.yaml", s.openapi)
	e.GET("/docs", apidocs.Page)
	e.GET("/docs/redoc.standalone.js", apidocs.Script)

	merchant := e.Group("/api", s.authenticate, s.rateLimit, requireRole("merchant"), requireWriteScope)
	merchant.POST("/withdrawals", s.createWithdrawal)
	merchant.GET("/withdrawals", s.listWithdrawals)
	merchant.GET("/withdrawals/fee", s.quoteFee)
	merchant.GET("/withdrawals/:id", s.getWithdrawal)
	merchant.POST("/withdrawals/:id/cancel", s.cancelWithdrawal)
	merchant.POST("/withdrawal-batches", s.createBatch)
	merchant.GET("/withdrawal-batches/:id", s.getBatch) // also :id.csv
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
	admin.GET("/limits", s.listLimits)
	admin.PUT("/limits", s.setLimits)
	admin.DELETE("/limits", s.removeLimits)
	admin.GET("/approval-rules", s.listApprovalRules)
	admin.PUT("/approval-rules", s.setApprovalRule)
	admin.DELETE("/approval-rules", s.removeApprovalRule)
	admin.GET("/approvals", s.listApprovals)
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
	admin.POST("/withdrawals/:id/approve", s.approveWithdrawal)
	admin.POST("/withdrawals/:id/reject", s.rejectWithdrawal)
	admin.GET("/withdrawal-batches/:id", s.adminGetBatch) // also :id.csv
	admin.POST("/withdrawal-batches/:id/approve", s.approveBatch)
	admin.POST("/withdrawal-batches/:id/reject", s.rejectBatch)
	admin.GET("/ledger/reconciliation", s.reconciliation)
	admin.GET("/fee-revenue", s.feeRevenue)
	admin.POST("/payout-runs", s.runPayouts)
	admin.GET("/payout-batches", s.listPayoutBatches)
	admin.POST("/payout-batches/:id/resolve", s.resolvePayoutBatch)
	admin.GET("/audit-log", s.listAuditLog)
	admin.GET("/sandbox", s.getSandbox)
	admin.PUT("/sandbox", s.setSandbox)
}
