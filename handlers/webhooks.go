package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/paycore/withdrawals/models"
	"github.com/paycore/withdrawals/services/webhooks"
)

type webhookEndpointDTO struct {
	ID                      string   `json:"id"`
	URL                     string   `json:"url"`
	Description             string   `json:"description"`
	Events                  []string `json:"events"`
	Status                  string   `json:"status"`
	DisabledReason          *string  `json:"disabledReason"`
	FailingSince            *string  `json:"failingSince"`
	PreviousSecretExpiresAt *string  `json:"previousSecretExpiresAt"`
	CreatedAt               string   `json:"createdAt"`
	Secret                  string   `json:"secret,omitempty"` // create and rotate only
}

func webhookEndpointOf(ep models.WebhookEndpoint) webhookEndpointDTO {
	status := "enabled"
	if ep.DisabledAt != nil {
		status = "disabled"
	}
	return webhookEndpointDTO{
		ID: ep.ID, URL: ep.URL, Description: ep.Description, Events: ep.Events, Status: status,
		DisabledReason: ep.DisabledReason, FailingSince: optionalTimestamp(ep.FailingSince),
		PreviousSecretExpiresAt: optionalTimestamp(ep.PreviousSecretExpiresAt), CreatedAt: timestamp(ep.CreatedAt),
	}
}

type createEndpointRequest struct {
	URL         string   `json:"url" validate:"required,max=2048"`
	Events      []string `json:"events" validate:"max=16"`
	Description string   `json:"description" validate:"max=500"`
}

// createWebhookEndpoint answers with the signing secret: the only time it is shown.
func (s *Server) createWebhookEndpoint(c echo.Context) error {
	var req createEndpointRequest
	if err := s.bindJSON(c, &req); err != nil {
		return err
	}
	ep, err := s.Webhooks.CreateEndpoint(c.Request().Context(), webhooks.EndpointInput{
		MerchantID: principal(c).MerchantID, URL: req.URL, Events: req.Events, Description: req.Description,
	})
	if err != nil {
		return err
	}
	dto := webhookEndpointOf(ep)
	dto.Secret = ep.Secret
	return c.JSON(http.StatusCreated, dto)
}

func (s *Server) listWebhookEndpoints(c echo.Context) error {
	eps, err := s.Webhooks.ListEndpoints(c.Request().Context(), principal(c).MerchantID)
	if err != nil {
		return err
	}
	out := make([]webhookEndpointDTO, len(eps))
	for i, ep := range eps {
		out[i] = webhookEndpointOf(ep)
	}
	return c.JSON(http.StatusOK, map[string]any{"endpoints": out})
}

func (s *Server) deleteWebhookEndpoint(c echo.Context) error {
	if err := s.Webhooks.DeleteEndpoint(c.Request().Context(), principal(c).MerchantID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// rotateWebhookSecret answers with the new secret; the old one signs alongside it for 24 hours.
func (s *Server) rotateWebhookSecret(c echo.Context) error {
	ep, err := s.Webhooks.RotateSecret(c.Request().Context(), principal(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	dto := webhookEndpointOf(ep)
	dto.Secret = ep.Secret
	return c.JSON(http.StatusOK, dto)
}

func (s *Server) testWebhookEndpoint(c echo.Context) error {
	evt, err := s.Webhooks.SendTest(c.Request().Context(), principal(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"eventId": evt.ID, "event": evt.Type})
}

type webhookAttemptDTO struct {
	AttemptedAt string  `json:"attemptedAt"`
	HTTPStatus  *int    `json:"httpStatus"`
	LatencyMs   int     `json:"latencyMs"`
	Error       *string `json:"error"`
}

type webhookDeliveryDTO struct {
	ID             string              `json:"id"`
	EventID        string              `json:"eventId"`
	EventType      string              `json:"eventType"`
	EndpointID     string              `json:"endpointId"`
	Status         string              `json:"status"`
	AttemptCount   int                 `json:"attemptCount"`
	LastHTTPStatus *int                `json:"lastHttpStatus"`
	LastError      *string             `json:"lastError"`
	CreatedAt      string              `json:"createdAt"`
	DeliveredAt    *string             `json:"deliveredAt"`
	Attempts       []webhookAttemptDTO `json:"attempts"`
}

func webhookDeliveryOf(d webhooks.DeliveryView) webhookDeliveryDTO {
	attempts := make([]webhookAttemptDTO, len(d.Attempts))
	for i, a := range d.Attempts {
		attempts[i] = webhookAttemptDTO{AttemptedAt: timestamp(a.AttemptedAt), HTTPStatus: a.HTTPStatus, LatencyMs: a.LatencyMs, Error: a.Error}
	}
	return webhookDeliveryDTO{
		ID: d.ID, EventID: d.EventID, EventType: d.EventType, EndpointID: d.EndpointID, Status: string(d.Status),
		AttemptCount: d.WebhookDelivery.Attempts, LastHTTPStatus: d.LastHTTPStatus, LastError: d.LastError,
		CreatedAt: timestamp(d.CreatedAt), DeliveredAt: optionalTimestamp(d.DeliveredAt), Attempts: attempts,
	}
}

func (s *Server) listWebhookDeliveries(c echo.Context) error {
	r, err := parsePageRequest(pageQuery(c), "a delivery's id such as whd_...")
	if err != nil {
		return err
	}
	page, err := s.Webhooks.ListDeliveries(c.Request().Context(), webhooks.DeliveryFilter{
		MerchantID: principal(c).MerchantID, EndpointID: c.QueryParam("endpointId"),
		Status: c.QueryParam("status"), EventType: c.QueryParam("eventType"), PageRequest: r,
	})
	if err != nil {
		return err
	}
	return renderCursorPage(c, "deliveries", page, webhookDeliveryOf, func(d webhooks.DeliveryView) string { return d.ID })
}

func (s *Server) retryWebhookDelivery(c echo.Context) error {
	d, err := s.Webhooks.RetryDelivery(c.Request().Context(), principal(c).MerchantID, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"id": d.ID, "status": d.Status})
}
