package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/onramp/onramp"
	"github.com/onramp/onramp/web"
)

// Body limits, per route.
const (
	noBody     = 1 << 10        // requests whose body is ignored
	jsonLimit  = 64 << 10       // JSON bodies and forms
	photoLimit = 5<<20 + 64<<10 // a 5 MB photo plus the multipart envelope
)

// routes is the whole HTTP surface.
func (s *Server) routes() {
	r := s.router
	r.Use(s.recoverer, requestIDMiddleware, s.logRequests, s.errorMiddleware, securityHeaders)

	r.GET("/healthz", s.healthz)
	r.GET("/readyz", s.readyz)
	r.StaticFS("/static", http.FS(web.Static()))
	r.GET("/photos/:org/:id", s.photo) // public: shown to website visitors

	// Pages.
	r.GET("/", s.session(false), s.home)
	r.GET("/login", s.loginPage)
	r.POST("/login", limitBody(jsonLimit), s.loginForm)
	r.POST("/logout", limitBody(jsonLimit), s.session(false), s.csrf, s.logout)
	r.GET("/wizard", s.session(false), s.role(onramp.RoleRep), s.wizardPage)
	r.GET("/wizard/:step", s.session(false), s.role(onramp.RoleRep), s.wizardPage)
	r.GET("/settings", s.session(false), s.role(onramp.RoleRep), s.settingsPage)
	r.GET("/admin", s.session(false), s.role(onramp.RoleAdmin), s.adminPage)
	r.GET("/admin/reps/:rep", s.session(false), s.role(onramp.RoleAdmin), s.adminRepPage)
	r.GET("/support", s.session(false), s.role(onramp.RoleSupport, onramp.RoleAdmin), s.supportPage)
	r.GET("/console", s.session(false), s.role(onramp.RoleRep), s.consolePage)
	r.GET("/chat/:org", s.chatPage) // public: stands in for the website's chat widget

	// JSON API.
	v1 := r.Group("/api/v1")
	v1.POST("/session", limitBody(jsonLimit), s.login)
	authed := v1.Group("", s.session(true), s.csrf, checkIdempotencyKey)
	authed.DELETE("/session", limitBody(noBody), s.logout)
	authed.GET("/me", s.me)
	authed.GET("/events", s.events)
	authed.GET("/notifications", s.notifications)

	// Visitor events, from the org's website (API key).
	v1.POST("/visitor-events", limitBody(visitorEventsLimit), s.apiKey, s.visitorEvents)

	// Chat: the visitor's side (public, the conversation's token), then
	// the rep's.
	chat := v1.Group("/chat", publicCORS)
	chat.OPTIONS("/*any", func(*gin.Context) {})
	chat.POST("/:org/conversations", limitBody(jsonLimit), s.startChat)
	visitor := chat.Group("/conversations/:id", s.visitorConversation)
	visitor.GET("", s.visitorGet)
	visitor.GET("/events", s.visitorStream)
	visitor.POST("/messages", limitBody(jsonLimit), s.visitorMessage)
	visitor.POST("/typing", limitBody(noBody), s.visitorTyping)
	visitor.POST("/end", limitBody(noBody), s.visitorEnd)
	convs := authed.Group("/conversations", s.role(onramp.RoleRep))
	convs.GET("", s.listConversations)
	convs.GET("/:id", s.getConversation)
	convs.POST("/:id/accept", limitBody(noBody), s.acceptConversation)
	convs.POST("/:id/messages", limitBody(jsonLimit), s.repMessage)
	convs.POST("/:id/typing", limitBody(noBody), s.repTyping)
	convs.POST("/:id/end", limitBody(noBody), s.repEnd)

	reps := authed.Group("/reps/:rep", s.rep)
	reps.GET("/onboarding", s.progress)
	reps.GET("/onboarding/events", s.stepEvents)
	reps.GET("/settings", s.settings)
	// A step's settings: the wizard's steps during onboarding, and the
	// same settings edited later (Settings → Me), by the same handlers.
	steps := reps.Group("/onboarding/steps", s.self)
	steps.PUT("/profile", limitBody(photoLimit), s.putProfile)
	steps.PUT("/availability", limitBody(jsonLimit), s.putAvailability)
	steps.PUT("/notifications", limitBody(jsonLimit), s.putNotifications)
	steps.PUT("/browser", limitBody(jsonLimit), s.putBrowser)
	steps.PUT("/:step", limitBody(jsonLimit), s.putOtherStep)
	steps.POST("/:step/skip", limitBody(noBody), s.skipStep)
	steps.POST("/finish", limitBody(noBody), s.finish)
	me := reps.Group("/settings", s.self)
	me.PUT("/profile", limitBody(photoLimit), s.putProfile)
	me.PUT("/availability", limitBody(jsonLimit), s.putAvailability)
	me.PUT("/notifications", limitBody(jsonLimit), s.putNotifications)

	admin := authed.Group("/admin", s.role(onramp.RoleAdmin))
	admin.GET("/reps", s.listReps)
	admin.POST("/reps", limitBody(jsonLimit), s.createRep)
	admin.GET("/reps/:rep", s.rep, s.adminProgress)
	admin.POST("/reps/:rep/steps/:step/reset", limitBody(noBody), s.rep, s.resetStep)
	admin.GET("/streams", s.listStreams)
	admin.POST("/streams", limitBody(jsonLimit), s.createStream)
	admin.GET("/api-keys", s.listAPIKeys)
	admin.POST("/api-keys", limitBody(jsonLimit), s.createAPIKey)
	admin.DELETE("/api-keys/:id", limitBody(noBody), s.revokeAPIKey)

	support := authed.Group("/support", s.role(onramp.RoleSupport, onramp.RoleAdmin))
	support.GET("/stuck", s.stuck)
	support.POST("/reps/:rep/steps/:step/retry", limitBody(noBody), s.rep, s.retryStep)

	r.NoRoute(func(c *gin.Context) { fail(c, onramp.Errorf(onramp.ENOTFOUND, "No such page.")) })
	r.NoMethod(func(c *gin.Context) { fail(c, onramp.Errorf(onramp.EBADREQUEST, "Method not allowed.")) })
}
